package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	tests := []struct {
		name    string
		e       Exponential
		attempt int
		want    time.Duration
	}{
		{"reconciler first", Exponential{Base: 10 * time.Second, Cap: 10 * time.Minute}, 1, 10 * time.Second},
		{"reconciler third", Exponential{Base: 10 * time.Second, Cap: 10 * time.Minute}, 3, 40 * time.Second},
		{"reconciler capped", Exponential{Base: 10 * time.Second, Cap: 10 * time.Minute}, 7, 10 * time.Minute},
		{"github first", Exponential{Base: 500 * time.Millisecond, Cap: 30 * time.Second}, 1, 500 * time.Millisecond},
		{"github sixth", Exponential{Base: 500 * time.Millisecond, Cap: 30 * time.Second}, 6, 16 * time.Second},
		{"github capped", Exponential{Base: 500 * time.Millisecond, Cap: 30 * time.Second}, 7, 30 * time.Second},
		{"zero attempt is the base", Exponential{Base: time.Second, Cap: time.Minute}, 0, time.Second},
		{"negative attempt is the base", Exponential{Base: time.Second, Cap: time.Minute}, -3, time.Second},
		{"huge attempt does not overflow", Exponential{Base: time.Second, Cap: time.Minute}, 1 << 40, time.Minute},
		{"base above cap is the cap", Exponential{Base: time.Hour, Cap: time.Minute}, 1, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Delay(tt.attempt); got != tt.want {
				t.Errorf("Delay(%d) = %s, want %s", tt.attempt, got, tt.want)
			}
		})
	}
}

func TestDelayJitterUpperHalf(t *testing.T) {
	e := Exponential{Base: time.Second, Cap: time.Minute, Jitter: true}
	for attempt := 1; attempt <= 10; attempt++ {
		full := Exponential{Base: e.Base, Cap: e.Cap}.Delay(attempt)
		for range 200 {
			d := e.Delay(attempt)
			if d < full/2 || d > full {
				t.Fatalf("Delay(%d) = %s, want within [%s, %s]", attempt, d, full/2, full)
			}
		}
	}
}

func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), 0); err != nil {
		t.Errorf("Sleep(0) = %v, want nil", err)
	}
	if err := Sleep(context.Background(), time.Nanosecond); err != nil {
		t.Errorf("Sleep(1ns) = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(0) on a cancelled context = %v, want context.Canceled", err)
	}
}
