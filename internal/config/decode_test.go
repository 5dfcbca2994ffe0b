package config

import (
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Maps are read entry by entry; types without a decoder of their own go
// through yaml.v3, with the line.
func TestDecodeFallback(t *testing.T) {
	var v struct {
		M map[string]string `yaml:"m"`
		F float64           `yaml:"f"`
		P *int              `yaml:"p"`
	}
	d := &decoder{file: "x.yaml", lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte("m: {a: b}\nf: nope\np: 3\n"), &doc); err != nil {
		t.Fatal(err)
	}
	d.value(doc.Content[0], reflect.ValueOf(&v).Elem(), "")
	if v.M["a"] != "b" || v.P == nil || *v.P != 3 {
		t.Errorf("map = %v, pointer = %v", v.M, v.P)
	}
	if len(d.errs) != 1 || d.errs[0].Error() != "x.yaml:2: key f: cannot unmarshal !!str `nope` into float64" {
		t.Errorf("errors = %v", d.errs)
	}
}
