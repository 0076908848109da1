package store

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
)

// JSON is a column that holds a T as JSON text (a TEXT column on both backends). A row type
// declares its JSON columns as JSON[T], and a write passes JSONOf(v): nothing in the hub
// marshals a column by hand, and no decoding error is dropped.
//
// Writing marshals V; a nil slice is written as [] and a nil map as {}, so that a reader
// never meets null where it expects a list or an object. Reading unmarshals the text into V;
// NULL and the empty string read as T's zero value. A column that is not valid JSON for T is
// an error that names neither the column's value nor any part of it.
type JSON[T any] struct {
	V T
}

// JSONOf returns v as a JSON column value.
func JSONOf[T any](v T) JSON[T] { return JSON[T]{V: v} }

// Value implements driver.Valuer. It writes <, > and & as they are: a column is not HTML.
func (j JSON[T]) Value() (driver.Value, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j.V); err != nil {
		return nil, fmt.Errorf("store: JSON column of %s: %w", reflect.TypeFor[T](), err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if string(b) == "null" {
		switch reflect.TypeFor[T]().Kind() {
		case reflect.Slice:
			b = []byte("[]")
		case reflect.Map:
			b = []byte("{}")
		}
	}
	return string(b), nil
}

// Scan implements sql.Scanner.
func (j *JSON[T]) Scan(src any) error {
	var zero T
	var b []byte
	switch v := src.(type) {
	case nil:
		j.V = zero
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("store: scan JSON column of %s: want text, got %T", reflect.TypeFor[T](), src)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		j.V = zero
		return nil
	}
	v := zero
	if err := json.Unmarshal(b, &v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return fmt.Errorf("store: scan JSON column of %s: not JSON (at byte %d)", reflect.TypeFor[T](), se.Offset)
		case errors.As(err, &te):
			return fmt.Errorf("store: scan JSON column of %s: a %s where %s belongs", reflect.TypeFor[T](), te.Value, te.Type)
		default:
			return fmt.Errorf("store: scan JSON column of %s: not valid for the type", reflect.TypeFor[T]())
		}
	}
	j.V = v
	return nil
}
