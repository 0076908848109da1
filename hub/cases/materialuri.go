package cases

import (
	"net"
	"net/url"
	"strings"

	"yjshub/problem"
)

// RuleMaterialHost: a material's URI names a host the hub does not let departments fetch from.
const RuleMaterialHost = "material_host"

// MaterialHosts says where the files of materials may be: the hosts a department's system is
// sent to fetch them from. Each entry is a host name ("files.gov.example") or every host under
// a domain ("*.gov.example"). Empty: any host named by DNS, but never an IP literal, localhost
// or a name that only a local network resolves (.local, .internal, .localhost).
type MaterialHosts []string

// problem says what is wrong with a material's URI, or nil: it must be https, name a host,
// carry no user information, and the host must be one MaterialHosts allows. A URI that points
// a department's system at itself, at a cloud metadata address or at a file on its disk would
// otherwise be forwarded as the applicant wrote it.
func (hs MaterialHosts) problem(path, raw string) *problem.Problem {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs():
		return &problem.Problem{Path: path, Rule: problem.RuleURI, Message: "must be an absolute https URI where the file can be fetched"}
	case u.Scheme != "https":
		return &problem.Problem{Path: path, Rule: problem.RuleURI, Message: "must be an https URI: the file is fetched over TLS"}
	case u.User != nil:
		return &problem.Problem{Path: path, Rule: problem.RuleURI, Message: "must not carry a user name or password"}
	case u.Hostname() == "":
		return &problem.Problem{Path: path, Rule: problem.RuleURI, Message: "must name the host the file is on"}
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if !hs.allow(host) {
		if len(hs) == 0 {
			return &problem.Problem{Path: path, Rule: RuleMaterialHost, Message: "the host must be a public DNS name, not an IP address or a local name"}
		}
		return &problem.Problem{Path: path, Rule: RuleMaterialHost, Message: "the host is not one the hub takes materials from (" + strings.Join(hs, ", ") + ")"}
	}
	return nil
}

func (hs MaterialHosts) allow(host string) bool {
	if len(hs) == 0 {
		if net.ParseIP(host) != nil || !strings.Contains(host, ".") {
			return false
		}
		for _, local := range []string{".localhost", ".local", ".internal", ".localdomain", ".home.arpa"} {
			if strings.HasSuffix(host, local) {
				return false
			}
		}
		return true
	}
	for _, h := range hs {
		h = strings.ToLower(h)
		if suffix, ok := strings.CutPrefix(h, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == h {
			return true
		}
	}
	return false
}

// Check reports every entry of hs that is not a host name or a "*." domain.
func (hs MaterialHosts) Check() []string {
	var bad []string
	for _, h := range hs {
		name := strings.TrimPrefix(h, "*.")
		if name == "" || strings.ContainsAny(name, "/:@*? ") || net.ParseIP(name) != nil {
			bad = append(bad, h)
		}
	}
	return bad
}
