package format

import (
	"fmt"
	"strings"
	"testing"
)

func TestCompletedNumbersPassTheirChecksAndAgreeWithTheStandardsDefinition(t *testing.T) {
	for i := range 2000 {
		body := fmt.Sprintf("320707%04d%02d%02d%03d", 1950+i%60, 1+i%12, 1+i%28, i%1000)
		id, err := CompleteResidentID(body)
		if err != nil || id != withResidentIDCheck(body) {
			t.Fatalf("CompleteResidentID(%s) = %s, %v; want %s", body, id, err, withResidentIDCheck(body))
		}
		if err := CheckResidentID(id); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		org := []byte("MA1000000")
		for k, n := len(org)-1, i; k >= 3 && n > 0; k, n = k-1, n/len(usccAlphabet) {
			org[k] = usccAlphabet[n%len(usccAlphabet)]
		}
		ubody := "91320707" + string(org)
		code, err := CompleteUSCC(ubody)
		if err != nil || code != withUSCCCheck(ubody) {
			t.Fatalf("CompleteUSCC(%s) = %s, %v; want %s", ubody, code, err, withUSCCCheck(ubody))
		}
		if err := CheckUSCC(code); err != nil {
			t.Fatalf("%s: %v", code, err)
		}
	}
	// The catalogue's own examples.
	if id, _ := CompleteResidentID("11010519491231002"); id != "11010519491231002X" {
		t.Errorf("resident ID example completed as %s", id)
	}
	if code, _ := CompleteUSCC("91350100M000100Y4"); code != "91350100M000100Y43" {
		t.Errorf("USCC example completed as %s", code)
	}
}

func TestCompletingAMalformedBodyNamesTheProblemWithoutTheValue(t *testing.T) {
	for _, c := range []struct {
		name, body string
		complete   func(string) (string, error)
	}{
		{"a resident ID body of 16 digits", "3207071990010100", CompleteResidentID},
		{"a resident ID body with a letter", "32070719900101A01", CompleteResidentID},
		{"a USCC body with an O", "9132070700000000O", CompleteUSCC},
		{"a USCC body of 18 characters", "913207070000000001", CompleteUSCC},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.complete(c.body)
			if err == nil || got != "" {
				t.Fatalf("got %q, %v; want an error", got, err)
			}
			if strings.Contains(err.Error(), c.body) {
				t.Errorf("the error repeats the value: %v", err)
			}
		})
	}
}
