package cases

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"yjshub/hub/deadline"
)

// DefaultDivision is the administrative division code (GB/T 2260) a case number begins with
// when the deployment names none: 赣榆区, 连云港市, 江苏省.
const DefaultDivision = "320707"

// A case number (办件编号) reads, in groups a clerk can say over the telephone:
//
//	320707-20261205-07-00042-5
//	│      │        │  │     └ check character: ISO 7064 MOD 11-2 over the 21 digits, as the
//	│      │        │  │       resident ID number has it (0–9 or X)
//	│      │        │  └ the day's sequence, from 00001, across the deployment (more digits
//	│      │        │    once a day passes 99999 cases)
//	│      │        └ the bundle's seq in the plan (01–40)
//	│      └ the day of submission in China, YYYYMMDD
//	└ the deployment's division code (GB/T 2260)
//
// No national or Jiangsu rule that fixes a case number's format was found (GB/T 39554 codes
// matters, not cases), so the hub's own format is documented in README.md; the case id stays
// the key, the number is what people read.
func caseNumber(division string, day time.Time, bundleSeq int, seq int64) string {
	body := fmt.Sprintf("%s-%s-%02d-%05d", division, day.Format("20060102"), bundleSeq, seq)
	return body + "-" + string(mod11_2(strings.ReplaceAll(body, "-", "")))
}

// mod11_2 is the ISO 7064 MOD 11-2 check character of a string of digits.
func mod11_2(digits string) byte {
	p := 0
	for i := 0; i < len(digits); i++ {
		p = (p + int(digits[i]-'0')) * 2 % 11
	}
	c := (12 - p%11) % 11
	if c == 10 {
		return 'X'
	}
	return byte('0' + c)
}

// ValidCaseNumber reports whether s is written as a case number and its check character
// holds.
func ValidCaseNumber(s string) bool {
	parts := strings.Split(s, "-")
	if len(parts) != 5 || len(parts[0]) != 6 || len(parts[1]) != 8 || len(parts[2]) != 2 || len(parts[3]) < 5 || len(parts[4]) != 1 {
		return false
	}
	body := strings.Join(parts[:4], "")
	for i := 0; i < len(body); i++ {
		if body[i] < '0' || body[i] > '9' {
			return false
		}
	}
	if _, err := time.Parse("20060102", parts[1]); err != nil {
		return false
	}
	if _, err := strconv.Atoi(parts[2]); err != nil {
		return false
	}
	return mod11_2(body) == parts[4][0]
}

// nextCaseNumber takes the next number of the day (China) of now within tx: the day's row is
// raised by one in the intake's own transaction, so two intakes at once wait for each other
// on that row (PostgreSQL) or on the write lock (SQLite) and never share a number, and a
// rolled-back intake gives its number back.
func (s *Service) nextCaseNumber(ctx context.Context, tx *sqlx.Tx, now time.Time, bundleSeq int) (string, error) {
	day := deadline.Date(now)
	var seq int64
	if err := tx.GetContext(ctx, &seq, tx.Rebind(`INSERT INTO case_number_days (day, last_seq) VALUES (?, 1)
		ON CONFLICT (day) DO UPDATE SET last_seq = case_number_days.last_seq + 1 RETURNING last_seq`), day.Format(time.DateOnly)); err != nil {
		return "", fmt.Errorf("numbering the case: %w", err)
	}
	return caseNumber(s.cfg.Division, day, bundleSeq, seq), nil
}

// isDivision reports whether s is written as a county-level division code: six digits.
func isDivision(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CaseNumberPattern is how the case numbers of a bundle read in a deployment: its division
// code and the bundle's seq filled in, the rest as YYYYMMDD (the day), NNNNN (the day's
// sequence) and C (the check character).
func CaseNumberPattern(division string, bundleSeq int) string {
	return fmt.Sprintf("%s-YYYYMMDD-%02d-NNNNN-C", division, bundleSeq)
}

// Division returns the division code the service's case numbers begin with.
func (s *Service) Division() string { return s.cfg.Division }
