package platform_test

import (
	"strings"
	"testing"

	"github.com/duohuo/duohuo/platform"
	"github.com/google/go-cmp/cmp"
)

// osReleaseCases are shared by the table test and the fuzz seed corpus.
var osReleaseCases = []struct {
	name    string
	in      string
	want    map[string]string
	wantErr string // substring of the error; "" means no error
}{
	{"unquoted value", "ID=debian\n", map[string]string{"ID": "debian"}, ""},
	{"double quoted value", `NAME="Kylin Linux Advanced Server"`, map[string]string{"NAME": "Kylin Linux Advanced Server"}, ""},
	{"single quoted value keeps backslashes", `NAME='a\b'`, map[string]string{"NAME": `a\b`}, ""},
	{"escapes in double quotes", `X="say \"hi\" \$HOME \\ \n"`, map[string]string{"X": `say "hi" $HOME \ \n`}, ""},
	{"comments and blank lines are skipped", "# comment\n\n  \nID=uos\n", map[string]string{"ID": "uos"}, ""},
	{"empty value", "VARIANT=\n", map[string]string{"VARIANT": ""}, ""},
	{"CRLF line endings", "ID=kylin\r\nVERSION_ID=\"V10\"\r\n", map[string]string{"ID": "kylin", "VERSION_ID": "V10"}, ""},
	{"UTF-8 values", `VERSION="银河麒麟桌面操作系统V10 (SP1)"`, map[string]string{"VERSION": "银河麒麟桌面操作系统V10 (SP1)"}, ""},
	{"later assignment wins", "ID=a\nID=b\n", map[string]string{"ID": "b"}, ""},
	{"value containing =", `HOME_URL="https://x/?a=b"`, map[string]string{"HOME_URL": "https://x/?a=b"}, ""},
	{"line without = is an error", "ID=debian\nnonsense\n", nil, "line 2: "},
	{"key with a dash is an error", "MY-KEY=1\n", nil, "line 1: invalid key"},
	{"empty key is an error", "=1\n", nil, "line 1: invalid key"},
	{"unterminated double quote is an error", "NAME=\"Kylin\n", nil, "line 1: NAME: unterminated double quote"},
	{"unterminated single quote is an error", "NAME='Kylin\n", nil, "line 1: NAME: unterminated single quote"},
	{"text after the closing quote is an error", `NAME="a" b`, nil, "after closing quote"},
}

func TestParseOSRelease(t *testing.T) {
	for _, tc := range osReleaseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := platform.ParseOSRelease([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ParseOSRelease(%q) error = %v, want one containing %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseOSRelease(%q) error: %v", tc.in, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseOSRelease(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestClassifyOS(t *testing.T) {
	tests := []struct {
		name string
		kv   map[string]string
		want platform.Distro
	}{
		{"Kylin server by NAME", map[string]string{"ID": "kylin", "NAME": "Kylin Linux Advanced Server"}, platform.DistroKylinServer},
		{"Kylin desktop by NAME Kylin", map[string]string{"ID": "kylin", "NAME": "Kylin", "ID_LIKE": "debian"}, platform.DistroKylinDesktop},
		{"Kylin V11 desktop has no ID_LIKE", map[string]string{"ID": "kylin", "NAME": "Kylin", "VERSION_ID": "v11"}, platform.DistroKylinDesktop},
		{"UOS server uelc20", map[string]string{"ID": "uos", "NAME": "UnionTech OS Server 20", "PLATFORM_ID": "platform:uelc20"}, platform.DistroUOSServer},
		{"UOS server Debian family with upper-case ID", map[string]string{"ID": "UOS", "NAME": "UnionTech OS Server 20", "VERSION_CODENAME": "fou"}, platform.DistroUOSServer},
		{"UOS server by PLATFORM_ID alone", map[string]string{"ID": "uos", "NAME": "uos", "PLATFORM_ID": "platform:uel20"}, platform.DistroUOSServer},
		{"UOS desktop by PRETTY_NAME", map[string]string{"ID": "uos", "NAME": "uos", "PRETTY_NAME": "UnionTech OS Desktop 20 Pro"}, platform.DistroUOSDesktop},
		{"NFSChina by NAME whatever the ID", map[string]string{"ID": "centos", "NAME": "NFSChina Server"}, platform.DistroNFSChina},
		{"NFSChina by Chinese name", map[string]string{"PRETTY_NAME": "中科方德服务器操作系统"}, platform.DistroNFSChina},
		{"openEuler mixed case ID", map[string]string{"ID": "openEuler", "NAME": "openEuler"}, platform.DistroOpenEuler},
		{"Anolis", map[string]string{"ID": "anolis", "ID_LIKE": "rhel fedora centos"}, platform.DistroAnolis},
		{"deepin capital D", map[string]string{"ID": "Deepin"}, platform.DistroDeepin},
		{"deepin lower case", map[string]string{"ID": "deepin"}, platform.DistroDeepin},
		{"openSUSE Leap", map[string]string{"ID": "opensuse-leap"}, platform.DistroOpenSUSE},
		{"AlmaLinux", map[string]string{"ID": "almalinux"}, platform.DistroAlma},
		{"Fedora", map[string]string{"ID": "fedora"}, platform.DistroFedora},
		{"Alpine", map[string]string{"ID": "alpine"}, platform.DistroAlpine},
		{"an unrecognised ID is other", map[string]string{"ID": "arch", "NAME": "Arch Linux"}, platform.DistroOther},
		{"no keys is unknown", nil, platform.DistroUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := platform.ClassifyOS(tc.kv)
			if got.Distro != tc.want {
				t.Errorf("ClassifyOS(%v).Distro = %q, want %q", tc.kv, got.Distro, tc.want)
			}
			if got.Domestic != tc.want.Domestic() {
				t.Errorf("ClassifyOS(%v).Domestic = %v, want %v", tc.kv, got.Domestic, tc.want.Domestic())
			}
		})
	}
}

func TestClassifyOSKeepsIDLikeAsAList(t *testing.T) {
	got := platform.ClassifyOS(map[string]string{"ID": "rocky", "ID_LIKE": "rhel centos fedora"})
	if diff := cmp.Diff([]string{"rhel", "centos", "fedora"}, got.IDLike); diff != "" {
		t.Errorf("ClassifyOS().IDLike mismatch (-want +got):\n%s", diff)
	}
}
