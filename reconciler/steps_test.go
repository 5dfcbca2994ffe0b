package reconciler

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestRunSteps(t *testing.T) {
	boom := errors.New("boom")
	type run struct{ ran []string }
	mk := func(name string, done bool, err error) step[run] {
		return func(_ context.Context, s *run) (bool, error) {
			s.ran = append(s.ran, name)
			return done, err
		}
	}
	tests := []struct {
		name    string
		steps   []step[run]
		wantRan []string
		wantErr error
	}{
		{"all run", []step[run]{mk("a", false, nil), mk("b", false, nil)}, []string{"a", "b"}, nil},
		{"done stops", []step[run]{mk("a", true, nil), mk("b", false, nil)}, []string{"a"}, nil},
		{"error stops", []step[run]{mk("a", false, boom), mk("b", false, nil)}, []string{"a"}, boom},
		{"done with error", []step[run]{mk("a", false, nil), mk("b", true, boom), mk("c", false, nil)}, []string{"a", "b"}, boom},
		{"none", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s run
			err := runSteps(context.Background(), &s, tt.steps...)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(s.ran, tt.wantRan) {
				t.Errorf("ran %v, want %v", s.ran, tt.wantRan)
			}
		})
	}
}
