package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rolecd/rolecd/planner"
	"github.com/rolecd/rolecd/planner/spec"
)

// failedItems turns the Hoop batch items that name an unknown resource into
// one failed plan entry per such resource: as in Hoop, each item fails on
// its own and the others are planned.
func failedItems(failed []spec.ItemError) []planner.ResourcePlan {
	var out []planner.ResourcePlan
	index := map[string]int{}
	for _, f := range failed {
		msg := fmt.Sprintf("%s (item role %s at %s)", f.Msg, f.Label, f.Pos)
		if i, ok := index[f.Resource]; ok {
			out[i].Error += "; " + msg
			continue
		}
		index[f.Resource] = len(out)
		out = append(out, planner.ResourcePlan{Resource: f.Resource, Roles: []planner.RolePlan{}, Error: msg})
	}
	return out
}

// notAPlan explains why the file apply -f was given is not a rolecd plan
// document: a Hoop plan-result file, a role file, or broken JSON.
func notAPlan(name string, data []byte, jsonErr error) error {
	var hoop struct {
		Results []struct {
			SID          string `yaml:"sid"`
			ResourceName string `yaml:"resource_name"`
		} `yaml:"results"`
	}
	if yaml.Unmarshal(data, &hoop) == nil && len(hoop.Results) > 0 && hoop.Results[0].SID != "" {
		return fmt.Errorf("%s is a Hoop plan-result file (hoop resources plan -o), not a rolecd plan: its SIDs name sessions "+
			"of a Hoop gateway and it holds no SQL rolecd could check. Plan the Hoop batch file with rolecd and apply that: "+
			"rolecd plan -f BATCH.yaml -o plan.json && rolecd apply -f plan.json", name)
	}
	var top map[string]any
	if yaml.Unmarshal(data, &top) == nil {
		for _, k := range []string{"resources", "roles", "items"} {
			if _, ok := top[k]; ok {
				return fmt.Errorf("%s is a role file (it has %s:), not a plan: plan it first, then apply the plan: "+
					"rolecd plan -f %s -o plan.json && rolecd apply -f plan.json", name, k, name)
			}
		}
	}
	if jsonErr == nil {
		return fmt.Errorf("%s is not a plan document written by rolecd plan -o (no version)", name)
	}
	var se *json.SyntaxError
	if errors.As(jsonErr, &se) {
		line := 1 + bytes.Count(data[:min(int(se.Offset), len(data))], []byte("\n"))
		return fmt.Errorf("%s:%d: not a plan document written by rolecd plan -o: %s", name, line, strings.TrimPrefix(se.Error(), "json: "))
	}
	return fmt.Errorf("%s is not a plan document written by rolecd plan -o: %w", name, jsonErr)
}
