package main

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/duohuo/duohuo/internal/telemetry"
)

func init() { subcommands = append(subcommands, newKVCmd) }

// kvClient talks to the admin API of a running duohuo: the replicated
// store's (package replica, Handler), the discovery dump's.
type kvClient struct {
	what  string // the command, which starts its errors; "kv" if empty
	admin string // host:port or URL
	token string
	http  *http.Client
}

func (c *kvClient) url(path string, q url.Values) string {
	base := c.admin
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	u := strings.TrimSuffix(base, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do sends the request and returns the body of a 2xx answer, or an error
// with the server's message.
func (c *kvClient) do(ctx context.Context, method, path string, q url.Values, body io.Reader) ([]byte, error) {
	what := cmp.Or(c.what, "kv")
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), body)
	if err != nil {
		return nil, usagef("%s: %v", what, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// Marks a program, not a web page: without a token the admin API
	// takes changes only with it (docs/security.md).
	req.Header.Set(telemetry.HeaderAdmin, "1")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %s %s: %w", what, method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: read answer: %w", what, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("%s: %s %s: %s: %s", what, method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

func objectPath(prefix, object string) string {
	return prefix + strings.TrimPrefix(object, "/")
}

func newKVCmd() *cobra.Command {
	c := &kvClient{http: &http.Client{Timeout: 30 * time.Second}}
	cmd := &cobra.Command{
		Use:   "kv",
		Short: "Read and write the replicated store of a running duohuo: get, put, del, incr, watch, status",
		Long: `kv talks to the replicated store (docs/replication.md) through the admin API of a
running duohuo (serve or demo) at --admin. Objects are named (for example
gray/rules); a map object holds keys, a counter object a number.

A write returns once it is durable on that site's disk; other sites see it after
replication (usually milliseconds, later during a partition). A write over a limit
(docs/security.md) is refused and changes nothing.

In the JSON of an object, a key, member or value that is not UTF-8 (or that
begins with "base64:") is written as "base64:" and its standard base64.`,
		Example: `  duohuo kv put gray/rules checkout 10%
  duohuo kv get gray/rules checkout
  duohuo kv get gray/rules
  duohuo kv incr ratelimit/api 5
  duohuo kv incr ratelimit/api -- -1
  duohuo kv del gray/rules checkout
  duohuo kv watch gray/
  duohuo kv status`,
	}
	cmd.PersistentFlags().StringVar(&c.admin, "admin", "127.0.0.1:9900", "admin address of the duohuo to talk to (host:port or URL)")
	cmd.PersistentFlags().StringVar(&c.token, "token", os.Getenv("DUOHUO_ADMIN_TOKEN"), "admin bearer token (default $DUOHUO_ADMIN_TOKEN)")

	get := &cobra.Command{
		Use:   "get OBJECT [KEY]",
		Short: "Print a map key's value, or a whole object as JSON",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if len(args) == 2 {
				q.Set("key", args[1])
			}
			b, err := c.do(cmd.Context(), "GET", objectPath("/v1/kv/", args[0]), q, nil)
			if err != nil {
				return err
			}
			if len(args) == 2 {
				fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
				return nil
			}
			return printObject(cmd.OutOrStdout(), b)
		},
	}
	put := &cobra.Command{
		Use:   "put OBJECT KEY VALUE",
		Short: "Set a map key (VALUE - reads standard input)",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body io.Reader = strings.NewReader(args[2])
			if args[2] == "-" {
				body = cmd.InOrStdin()
			}
			_, err := c.do(cmd.Context(), "PUT", objectPath("/v1/kv/", args[0]), url.Values{"key": {args[1]}}, body)
			return err
		},
	}
	del := &cobra.Command{
		Use:   "del OBJECT KEY",
		Short: "Delete a map key",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := c.do(cmd.Context(), "DELETE", objectPath("/v1/kv/", args[0]), url.Values{"key": {args[1]}}, nil)
			return err
		},
	}
	incr := &cobra.Command{
		Use:   "incr OBJECT [N]",
		Short: "Add N (default 1; a negative N goes after --) to a counter and print its new value",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			by := "1"
			if len(args) == 2 {
				if _, err := strconv.ParseInt(args[1], 10, 64); err != nil {
					return usagef("kv incr: N %q: want an integer", args[1])
				}
				by = args[1]
			}
			path := objectPath("/v1/kv/", args[0])
			if _, err := c.do(cmd.Context(), "POST", path, url.Values{"op": {"incr"}, "by": {by}}, nil); err != nil {
				return err
			}
			b, err := c.do(cmd.Context(), "GET", path, nil, nil)
			if err != nil {
				return err
			}
			return printObject(cmd.OutOrStdout(), b)
		},
	}
	watch := &cobra.Command{
		Use:   "watch [PREFIX]",
		Short: "Print objects under PREFIX as they change, until interrupted",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			prefix := ""
			if len(args) == 1 {
				prefix = args[0]
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			return c.watch(ctx, cmd.OutOrStdout(), prefix)
		},
	}
	var statusJSON bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Print the site's store: name, replica id, objects, members, join targets, kind conflicts and the records recovery quarantined",
		Long: `status prints the store of the duohuo at --admin: its site name and replica id, how
many objects it holds, the sites it sees, its join targets (connected, joining,
unreachable or key_refused; docs/replication.md, "Joins"), the kind conflicts it
holds (an object created as two kinds at different sites: the kind created first is
kept everywhere, the other's state is kept aside and printed here; docs/replication.md,
"Kind conflicts"), and every record that recovery could not load and keeps aside in
the store file's quarantine bucket (docs/replication.md, "Quarantine"). --json prints
the answer as the API gives it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b, err := c.do(cmd.Context(), "GET", "/v1/kv/", nil, nil)
			if err != nil {
				return err
			}
			if statusJSON {
				_, err := cmd.OutOrStdout().Write(b)
				return err
			}
			return printStatus(cmd.OutOrStdout(), b)
		},
	}
	status.Flags().BoolVar(&statusJSON, "json", false, "print the status as JSON")
	cmd.AddCommand(get, put, del, incr, watch, status)
	return cmd
}

// objectJSON mirrors replica.ObjectJSON.
type objectJSON struct {
	Object string          `json:"object"`
	Kind   string          `json:"kind"`
	Value  json.RawMessage `json:"value"`
}

// printObject prints an object: a map as "key=value" lines in key order,
// anything else as "object kind value".
func printObject(w io.Writer, b []byte) error {
	var o objectJSON
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("kv: answer is not an object: %w", err)
	}
	if o.Kind == "ormap" {
		var m map[string]string
		if err := json.Unmarshal(o.Value, &m); err != nil {
			return fmt.Errorf("kv: map value: %w", err)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "%s=%s\n", k, m[k])
		}
		return nil
	}
	fmt.Fprintf(w, "%s %s %s\n", o.Object, o.Kind, o.Value)
	return nil
}

// statusJSON mirrors replica.StatusJSON.
type statusJSON struct {
	Site        string   `json:"site"`
	Replica     string   `json:"replica"`
	Objects     int      `json:"objects"`
	Members     []string `json:"members"`
	Quarantined []struct {
		Record string    `json:"record"`
		Object string    `json:"object"`
		Size   int       `json:"size"`
		Error  string    `json:"error"`
		Time   time.Time `json:"time"`
	} `json:"quarantined"`
	Peers []struct {
		Addr     string    `json:"addr"`
		Site     string    `json:"site"`
		State    string    `json:"state"`
		Error    string    `json:"error"`
		Since    time.Time `json:"since"`
		Failures int       `json:"failures"`
	} `json:"peers"`
	Conflicts []struct {
		Object     string     `json:"object"`
		Kind       string     `json:"kind"`
		Winner     string     `json:"winner"`
		Born       time.Time  `json:"born"`
		BornBy     string     `json:"born_by"`
		WinnerBorn time.Time  `json:"winner_born"`
		Since      time.Time  `json:"since"`
		State      objectJSON `json:"state"`
	} `json:"conflicts"`
}

func printStatus(w io.Writer, b []byte) error {
	var st statusJSON
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("kv status: answer is not a status: %w", err)
	}
	fmt.Fprintf(w, "site %s replica %s objects %d\n", st.Site, st.Replica, st.Objects)
	if len(st.Members) > 0 {
		fmt.Fprintf(w, "members %s\n", strings.Join(st.Members, " "))
	}
	fmt.Fprintf(w, "quarantined %d\n", len(st.Quarantined))
	for _, q := range st.Quarantined {
		fmt.Fprintf(w, "  %s object=%q bytes=%d at=%s: %s\n", q.Record, q.Object, q.Size, q.Time.Format(time.RFC3339), q.Error)
	}
	for _, p := range st.Peers {
		fmt.Fprintf(w, "peer %s site=%q %s", p.Addr, p.Site, p.State)
		if p.Error != "" {
			fmt.Fprintf(w, " since=%s failures=%d: %s", p.Since.Format(time.RFC3339), p.Failures, strings.Join(strings.Fields(p.Error), " "))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "conflicts %d\n", len(st.Conflicts))
	for _, c := range st.Conflicts {
		fmt.Fprintf(w, "  %q is a %s (created %s); the %s created %s by replica %s is kept aside since %s: %s\n",
			c.Object, c.Winner, c.WinnerBorn.Format(time.RFC3339Nano), c.Kind, c.Born.Format(time.RFC3339Nano), c.BornBy,
			c.Since.Format(time.RFC3339), c.State.Value)
	}
	return nil
}

func (c *kvClient) watch(ctx context.Context, w io.Writer, prefix string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.url(objectPath("/v1/watch/", prefix), nil), nil)
	if err != nil {
		return usagef("kv watch: %v", err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	client := *c.http
	client.Timeout = 0 // a stream; ctx ends it
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("kv watch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("kv watch: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var o objectJSON
		if err := json.Unmarshal([]byte(data), &o); err != nil {
			return fmt.Errorf("kv watch: event: %w", err)
		}
		fmt.Fprintf(w, "%s %s %s\n", o.Object, o.Kind, o.Value)
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("kv watch: %w", err)
	}
	return nil
}
