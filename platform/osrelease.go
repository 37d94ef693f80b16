package platform

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Distro is the classified Linux distribution. The values are stable: they
// are used as metric label values and in `duohuo env --json`.
type Distro string

// Distributions told apart by [ClassifyOS]. The first group are the Chinese
// domestic (信创) distributions.
const (
	DistroKylinServer  Distro = "kylin-server"  // Kylin Linux Advanced Server (RPM based)
	DistroKylinDesktop Distro = "kylin-desktop" // Kylin desktop (Debian/Ubuntu based)
	DistroUOSServer    Distro = "uos-server"    // UnionTech OS Server
	DistroUOSDesktop   Distro = "uos-desktop"   // UnionTech OS Desktop
	DistroNFSChina     Distro = "nfschina"      // NFSChina (中科方德), recognised by NAME only
	DistroOpenEuler    Distro = "openeuler"
	DistroAnolis       Distro = "anolis"
	DistroDeepin       Distro = "deepin"

	DistroUbuntu   Distro = "ubuntu"
	DistroDebian   Distro = "debian"
	DistroCentOS   Distro = "centos"
	DistroRHEL     Distro = "rhel"
	DistroRocky    Distro = "rocky"
	DistroAlma     Distro = "almalinux"
	DistroFedora   Distro = "fedora"
	DistroOpenSUSE Distro = "opensuse"
	DistroAlpine   Distro = "alpine"
	DistroOther    Distro = "other"   // an os-release was read but not recognised
	DistroUnknown  Distro = "unknown" // no os-release could be read
)

// Domestic reports whether d is one of the Chinese domestic distributions.
func (d Distro) Domestic() bool {
	switch d {
	case DistroKylinServer, DistroKylinDesktop, DistroUOSServer, DistroUOSDesktop,
		DistroNFSChina, DistroOpenEuler, DistroAnolis, DistroDeepin:
		return true
	}
	return false
}

// OS is what os-release(5) says about the distribution, plus its
// classification. The zero value has an empty Distro; [Detect] and
// [ClassifyOS] always set it.
type OS struct {
	ID              string   `json:"id"`
	IDLike          []string `json:"id_like,omitempty"`
	Name            string   `json:"name"`
	VersionID       string   `json:"version_id"`
	PrettyName      string   `json:"pretty_name"`
	VersionCodename string   `json:"version_codename,omitempty"`
	PlatformID      string   `json:"platform_id,omitempty"`
	Distro          Distro   `json:"distro"`
	Domestic        bool     `json:"domestic"`
}

// maxOSRelease bounds how much of an os-release file is read; real ones are
// well under 1 KiB.
const maxOSRelease = 64 << 10

// ParseOSRelease parses the KEY=value lines of an os-release(5) file. Values
// may be unquoted, "double quoted" (with \" \\ \$ \` escapes) or 'single
// quoted'. Blank lines and lines starting with # are skipped. A line that is
// not an assignment, a key with characters other than A-Z a-z 0-9 _, or an
// unterminated quote is an error starting "line N:". ParseOSRelease is safe for
// concurrent use.
func ParseOSRelease(data []byte) (map[string]string, error) {
	if len(data) > maxOSRelease {
		return nil, fmt.Errorf("%d bytes is larger than the %d byte limit", len(data), maxOSRelease)
	}
	kv := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxOSRelease)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: %q is not KEY=value", n, clip(line))
		}
		if !validOSReleaseKey(key) {
			return nil, fmt.Errorf("line %d: invalid key %q", n, clip(key))
		}
		val, err := unquoteOSRelease(raw)
		if err != nil {
			return nil, fmt.Errorf("line %d: %s: %w", n, key, err)
		}
		kv[key] = val
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return kv, nil
}

func validOSReleaseKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// unquoteOSRelease undoes the shell-compatible quoting os-release(5) allows.
func unquoteOSRelease(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", nil
	}
	switch raw[0] {
	case '\'':
		end := strings.IndexByte(raw[1:], '\'')
		if end < 0 {
			return "", fmt.Errorf("unterminated single quote")
		}
		if rest := strings.TrimSpace(raw[end+2:]); rest != "" {
			return "", fmt.Errorf("text %q after closing quote", clip(rest))
		}
		return raw[1 : end+1], nil
	case '"':
		var b strings.Builder
		for i := 1; i < len(raw); i++ {
			c := raw[i]
			switch {
			case c == '\\' && i+1 < len(raw):
				i++
				if n := raw[i]; n != '"' && n != '\\' && n != '$' && n != '`' {
					b.WriteByte('\\')
				}
				b.WriteByte(raw[i])
			case c == '"':
				if rest := strings.TrimSpace(raw[i+1:]); rest != "" {
					return "", fmt.Errorf("text %q after closing quote", clip(rest))
				}
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf("unterminated double quote")
	}
	return raw, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// ClassifyOS builds an [OS] from parsed os-release keys. It follows the
// rules in docs/platforms.md: ID compared case-insensitively (Kylin writes
// "kylin", UOS both "uos" and "UOS", deepin both "Deepin" and "deepin");
// Kylin and UOS server are told from desktop by NAME / PRETTY_NAME;
// NFSChina, whose os-release values are not public, is recognised by
// "NFSChina" or "方德" in NAME or PRETTY_NAME. A nil or empty map gives
// [DistroUnknown]. ClassifyOS is safe for concurrent use.
func ClassifyOS(kv map[string]string) OS {
	o := OS{
		ID:              kv["ID"],
		Name:            kv["NAME"],
		VersionID:       kv["VERSION_ID"],
		PrettyName:      kv["PRETTY_NAME"],
		VersionCodename: kv["VERSION_CODENAME"],
		PlatformID:      kv["PLATFORM_ID"],
		IDLike:          strings.Fields(kv["ID_LIKE"]),
	}
	o.Distro = classifyDistro(o)
	o.Domestic = o.Distro.Domestic()
	return o
}

func classifyDistro(o OS) Distro {
	if o.ID == "" && o.Name == "" && o.PrettyName == "" {
		return DistroUnknown
	}
	names := strings.ToLower(o.Name + "\n" + o.PrettyName)
	// NFSChina publishes no os-release values; the product string seen in
	// public sources is "NFSChina Server V4.0 64bit".
	if strings.Contains(names, "nfschina") || strings.Contains(names, "方德") {
		return DistroNFSChina
	}
	server := strings.Contains(names, "server")
	switch id := strings.ToLower(o.ID); {
	case id == "kylin":
		// Server: NAME="Kylin Linux Advanced Server"; desktop: NAME="Kylin".
		if server {
			return DistroKylinServer
		}
		return DistroKylinDesktop
	case id == "uos":
		// Server: NAME="UnionTech OS Server 20"; desktop: NAME="uos",
		// PRETTY_NAME="UnionTech OS Desktop 20 Pro".
		if server || strings.HasPrefix(o.PlatformID, "platform:uel") {
			return DistroUOSServer
		}
		return DistroUOSDesktop
	case id == "openeuler":
		return DistroOpenEuler
	case id == "anolis":
		return DistroAnolis
	case id == "deepin":
		return DistroDeepin
	case id == "ubuntu":
		return DistroUbuntu
	case id == "debian":
		return DistroDebian
	case id == "centos":
		return DistroCentOS
	case id == "rhel":
		return DistroRHEL
	case id == "rocky":
		return DistroRocky
	case id == "almalinux":
		return DistroAlma
	case id == "fedora":
		return DistroFedora
	case id == "alpine":
		return DistroAlpine
	case strings.HasPrefix(id, "opensuse"):
		return DistroOpenSUSE
	}
	return DistroOther
}
