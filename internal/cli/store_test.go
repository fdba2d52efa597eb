package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestReadSecretValueFromStdin(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
		wantErr        string
	}{
		{name: "one newline trimmed", in: "s3cret\n", want: "s3cret"},
		{name: "CRLF trimmed", in: "s3cret\r\n", want: "s3cret"},
		{name: "only one newline trimmed", in: "s3cret\n\n", want: "s3cret\n"},
		{name: "no newline", in: "s3cret", want: "s3cret"},
		{name: "inner newlines and spaces kept", in: " a\nb \n", want: " a\nb "},
		{name: "empty", in: "", wantErr: "no value on standard input"},
		{name: "just a newline", in: "\n", wantErr: "no value on standard input"},
		{name: "too long", in: strings.Repeat("x", maxSecretValue+1), wantErr: "longer than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readSecretValue(context.Background(), &Streams{In: strings.NewReader(tc.in)}, "db")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadSecretValueFromTerminal(t *testing.T) {
	for _, tc := range []struct {
		name    string
		typed   []string
		readErr error
		want    string
		wantErr string
	}{
		{name: "typed twice", typed: []string{"s3cret", "s3cret"}, want: "s3cret"},
		{name: "mismatch", typed: []string{"s3cret", "s3cre7"}, wantErr: "the two values differ"},
		{name: "empty", typed: []string{""}, wantErr: "empty value"},
		{name: "read fails", readErr: errors.New("boom"), wantErr: "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var prompts strings.Builder
			calls := 0
			s := &Streams{
				In:     strings.NewReader("stdin is not read on a terminal"),
				ErrOut: &prompts,
				InTTY:  true,
				ReadPassword: func(context.Context) ([]byte, error) {
					if tc.readErr != nil {
						return nil, tc.readErr
					}
					calls++
					return []byte(tc.typed[calls-1]), nil
				},
			}
			got, err := readSecretValue(context.Background(), s, "db")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				for _, v := range tc.typed {
					if v != "" && strings.Contains(err.Error(), v) {
						t.Errorf("error %q shows what was typed", err)
					}
				}
			} else if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
			if !strings.HasPrefix(prompts.String(), "Value of db: ") {
				t.Errorf("prompts = %q", prompts.String())
			}
			for _, v := range tc.typed {
				if v != "" && strings.Contains(prompts.String(), v) {
					t.Errorf("prompts echo the value: %q", prompts.String())
				}
			}
		})
	}
}
