package gateway

import "strings"

// reasonCode is the code of a reason given to Reply: the words before
// any ": " (which start the details: a service, a lane), joined by '_'.
// "no healthy instance: orders" is no_healthy_instance. Listeners that
// give codes only (error_detail: code) answer with it.
func reasonCode(reason string) string {
	if i := strings.Index(reason, ": "); i >= 0 {
		reason = reason[:i]
	}
	return strings.ReplaceAll(reason, " ", "_")
}
