package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/internal/gateway"
)

func init() { subcommands = append(subcommands, newDiscoveryCmd) }

func newDiscoveryCmd() *cobra.Command {
	c := &kvClient{what: "discovery", http: &http.Client{Timeout: 30 * time.Second}}
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Show what the discovery sources of a running duohuo say: dump",
	}
	cmd.PersistentFlags().StringVar(&c.admin, "admin", "127.0.0.1:9900", "admin address of the duohuo to talk to (host:port or URL)")
	cmd.PersistentFlags().StringVar(&c.token, "token", os.Getenv("DUOHUO_ADMIN_TOKEN"), "admin bearer token (default $DUOHUO_ADMIN_TOKEN)")
	var asJSON bool
	dump := &cobra.Command{
		Use:   "dump [SERVICE]",
		Short: "Print, per service, what each source reports and why each instance is in or out",
		Long: `dump asks the duohuo at --admin, for every service (or SERVICE), what each of its
discovery sources last reported (docs/discovery.md), in precedence order, and
prints each instance with its fate: published, or hidden because a source that
ranks higher reports the same address or id; a report held by the drop guard;
a source that is stale and its last error; and the published instances with
their health state (healthy, ejected, …) and its reason.`,
		Example: `  duohuo discovery dump
  duohuo discovery dump orders
  duohuo discovery dump orders --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/discovery"
			if len(args) == 1 {
				path += "/" + url.PathEscape(args[0])
			}
			b, err := c.do(cmd.Context(), "GET", path, nil, nil)
			if err != nil {
				return err
			}
			var dumps []gateway.DiscoveryDump
			if len(args) == 1 {
				var d gateway.DiscoveryDump
				err = json.Unmarshal(b, &d)
				dumps = []gateway.DiscoveryDump{d}
			} else {
				err = json.Unmarshal(b, &dumps)
			}
			if err != nil {
				return fmt.Errorf("discovery: the answer is not a dump: %w", err)
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if len(args) == 1 {
					return enc.Encode(dumps[0])
				}
				return enc.Encode(dumps)
			}
			printDumps(cmd.OutOrStdout(), dumps)
			return nil
		},
	}
	dump.Flags().BoolVar(&asJSON, "json", false, "print the admin API's JSON")
	cmd.AddCommand(dump)
	return cmd
}

// printDumps writes dumps for people.
func printDumps(out io.Writer, dumps []gateway.DiscoveryDump) {
	for i, d := range dumps {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "service %s (view revision %d)\n", d.Service, d.Revision)
		for _, s := range d.Sources {
			state := "ok"
			switch {
			case !s.Reports:
				state = "does not report this service"
			case s.Stale:
				state = "stale: " + s.LastError
			}
			fmt.Fprintf(out, "  source %s (precedence %d): %s\n", s.Source, s.Precedence, state)
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, in := range s.Instances {
				fate := "published"
				if !in.Published {
					fate = "hidden: " + in.Why
				}
				fmt.Fprintf(tw, "    %s\t%s\tweight %d\t%s\t%s\n", in.Addr, in.ID, in.Weight, orDash(in.Locality.String()), fate)
			}
			_ = tw.Flush()
			if h := s.Held; h != nil {
				what := fmt.Sprintf("%d instances", len(h.Instances))
				if h.Withdrawn {
					what = "the service withdrawn"
				}
				fmt.Fprintf(out, "    held by the drop guard: a report of %s, seen %d times; the instances above serve until it is confirmed\n", what, h.Reports)
			}
		}
		fmt.Fprintf(out, "  published: %d instances\n", len(d.Published))
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, in := range d.Published {
			reason := ""
			if in.Reason != "" {
				reason = " (" + in.Reason + ")"
			}
			fmt.Fprintf(tw, "    %s\t%s\teffective weight %d\t%s%s\n", in.Addr, orDash(in.Locality.String()), in.Weight, in.Status, reason)
		}
		_ = tw.Flush()
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
