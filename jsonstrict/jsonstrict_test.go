package jsonstrict

import (
	"strings"
	"testing"

	"yjshub/problem"
)

func TestCheckNamesEveryProblemByPointer(t *testing.T) {
	cases := []struct {
		name string
		body string
		want []problem.Problem // paths and rules; messages are checked not to echo the input
	}{
		{"clean", `{"a":"x\ty\nz","b":[1,{"c":null}],"d":"内容"}`, nil},
		{"NUL escaped in a value", `{"form":{"name":"a\u0000b"}}`, []problem.Problem{{Path: "/form/name", Rule: RuleControl}}},
		{"escape in a key", `{"ke\u0001y":1}`, []problem.Problem{{Path: "/ke\u0001y", Rule: RuleControl}}},
		{"C1 and DEL", `["\u0085","\u007f","ok"]`, []problem.Problem{{Path: "/0", Rule: RuleControl}, {Path: "/1", Rule: RuleControl}}},
		{"duplicate key", `{"bundle":"a","x":{"k":1,"k":2},"bundle":"b"}`, []problem.Problem{{Path: "/x/k", Rule: problem.RuleDuplicate}, {Path: "/bundle", Rule: problem.RuleDuplicate}}},
		{"key with a slash", `{"a/b":1,"a/b":2}`, []problem.Problem{{Path: "/a~1b", Rule: problem.RuleDuplicate}}},
		{"trailing object", `{"a":1} {"a":2}`, []problem.Problem{{Path: "", Rule: RuleTrailing}}},
		{"trailing garbage", `{"a":1}]`, []problem.Problem{{Path: "", Rule: RuleTrailing}}},
		{"trailing whitespace is fine", "{\"a\":1}\n\t ", nil},
		{"empty", ``, []problem.Problem{{Path: "", Rule: problem.RuleJSON}}},
		{"malformed", `{"a":}`, []problem.Problem{{Path: "", Rule: problem.RuleJSON}}},
		{"cut short", `{"a":[1,2`, []problem.Problem{{Path: "", Rule: problem.RuleJSON}}},
		{"not UTF-8", "{\"a\":\"\xff\"}", []problem.Problem{{Path: "", Rule: RuleUTF8}}},
		{"too deep", strings.Repeat("[", 40) + strings.Repeat("]", 40), []problem.Problem{{Path: strings.Repeat("/0", 32), Rule: RuleDepth}}},
		{"too many items", `{"m":[` + strings.TrimSuffix(strings.Repeat(`{},`, 1001), ",") + `]}`, []problem.Problem{{Path: "/m", Rule: RuleItems}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Check([]byte(c.body), Limits{})
			if len(got) != len(c.want) {
				t.Fatalf("Check = %+v, want %+v", got, c.want)
			}
			for i := range got {
				if got[i].Path != c.want[i].Path || got[i].Rule != c.want[i].Rule {
					t.Errorf("problem %d = %+v, want path %q rule %q", i, got[i], c.want[i].Path, c.want[i].Rule)
				}
				if strings.ContainsRune(got[i].Message, 0) || got[i].Message == "" {
					t.Errorf("problem %d message %q", i, got[i].Message)
				}
			}
		})
	}
}

func TestCheckStopsCollectingAtItsBound(t *testing.T) {
	body := "[" + strings.TrimSuffix(strings.Repeat(`"\u0000",`, 900), ",") + "]"
	got := Check([]byte(body), Limits{MaxProblems: 50})
	if len(got) != 50 {
		t.Fatalf("%d problems, want the bound of 50", len(got))
	}
	if err := CheckError([]byte(`{"a":1}`), Limits{}); err != nil {
		t.Errorf("CheckError on a clean body = %v", err)
	}
}

func TestControlCharacters(t *testing.T) {
	for _, r := range []rune{0, 1, 0x1f, 0x7f, 0x80, 0x9f} {
		if !IsControl(r) {
			t.Errorf("IsControl(%U) = false", r)
		}
	}
	for _, r := range []rune{'\t', '\n', '\r', ' ', 'a', 0xa0, '中'} {
		if IsControl(r) {
			t.Errorf("IsControl(%U) = true", r)
		}
	}
	if i := ControlIndex("中文\x00"); i != 2 {
		t.Errorf("ControlIndex = %d, want 2 (runes, not bytes)", i)
	}
}

func FuzzCheckNeverPanics(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":"\u0000"}]}`, `[[[`, `{"a":1,"a":2}`, "\xff", `"x" 1`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, p := range Check(b, Limits{MaxDepth: 8, MaxItems: 16}) {
			if p.Rule == "" || p.Message == "" {
				t.Fatalf("problem without rule or message: %+v", p)
			}
		}
	})
}
