package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/duohuo/duohuo/internal/etcdtest"
	"github.com/duohuo/duohuo/lock"
	"github.com/duohuo/duohuo/lock/etcdlock"
	"github.com/duohuo/duohuo/lock/linearize"
)

func init() { subcommands = append(subcommands, newLockCmd) }

func newLockCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lock",
		Short: "Distributed locks on etcd: verify linearizability, acquire, release, status",
		Long: `Distributed locks on etcd with fencing tokens (package lock/etcdlock).

"verify" checks the lock under faults with the Porcupine linearizability checker;
"acquire", "release" and "status" are for operators.`,
	}
	cmd.AddCommand(newLockVerifyCmd(), newLockVerifyClientCmd(), newLockStatusCmd(), newLockReleaseCmd(), newLockAcquireCmd())
	return cmd
}

func newLockVerifyCmd() *cobra.Command {
	var (
		endpoints    []string
		embedded     bool
		clients      int
		duration     time.Duration
		ttl          time.Duration
		faults       []string
		runs         int
		controls     bool
		visualizeDir string
		checkTimeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check that the etcd lock with fencing stays linearizable under faults",
		Long: `verify runs N clients that each loop: acquire the lock, read a register, write the
value plus one through the fence, release. It records every operation's invoke and
return time and checks the histories with Porcupine against a mutex model and a
register model; a checker timeout counts as a failure. It prints one row per fault
and lock: runs, runs linearizable, locks acquired, acquires that certainly failed,
writes refused by the fence, locks lost to lease expiry, operations with unknown
outcome, client pauses, and the slowest check.

Faults:
  none              no fault
  pause             clients stop (keep-alives included) for 1.5-3 TTLs mid critical section
  sigstop           the same with every client in a child process, stopped by SIGSTOP and
                    continued by SIGCONT: the whole process freezes, runtime and etcd client
  leader-kill       the leader is killed, then restarted          (--embedded only)
  member-kill       a follower is killed, then restarted          (--embedded only)
  latency-low       3±2 ms on all peer traffic                    (--embedded only)
  latency-high      75±50 ms on all peer traffic                  (--embedded only)
  partition-leader  everything into the leader is blackholed      (--embedded only)

With --endpoints the run uses your cluster (keys under /duohuo/lock-verify/); only
client-side faults (pause, sigstop) apply, since verify cannot control your servers.
For sigstop, verify runs each client as a child process of its own binary
("duohuo lock verify-client") and records every operation's times itself. With
--embedded it starts a 3-member etcd cluster in this process, each member behind a
fault proxy, and every fault applies.

--controls also runs two deliberately unsafe locks (ttl-only: put-if-absent with a
TTL and no fencing; get-then-put: read, then write) to show that the checker
catches them; expect them caught under pause.

Exit status 1 if the etcd lock fails any run.`,
		Example: `  duohuo lock verify --embedded --faults all --controls
  duohuo lock verify --endpoints 10.0.0.1:2379,10.0.0.2:2379 --faults pause --runs 10`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if embedded == (len(endpoints) > 0) {
				return usagef("lock verify: give exactly one of --endpoints and --embedded")
			}
			fs, err := linearize.ParseFaults(faults)
			if err != nil {
				return usagef("lock verify: --faults: %v", err)
			}
			if !embedded {
				for _, f := range fs {
					if f.NeedsCluster() {
						return usagef("lock verify: fault %q needs --embedded (verify cannot control your servers)", f.Name)
					}
				}
			}
			if clients < 1 || clients > linearize.MaxClients {
				return usagef("lock verify: --clients %d, want 1..%d", clients, linearize.MaxClients)
			}
			if runs < 1 {
				return usagef("lock verify: --runs %d, want >= 1", runs)
			}
			if ttl < time.Second || duration <= 0 {
				return usagef("lock verify: --ttl must be >= 1s and --duration > 0")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			env := linearize.Env{Endpoints: endpoints}
			var heal func() error
			if embedded {
				dir, err := os.MkdirTemp("", "duohuo-lock-verify-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(dir)
				c, err := etcdtest.StartProxied(etcdtest.Config{Members: 3, Dir: dir})
				if err != nil {
					return fmt.Errorf("lock verify: start embedded cluster: %w", err)
				}
				defer c.Close()
				env, heal = linearize.Env{Endpoints: c.Endpoints(), Cluster: c}, c.Heal
			}
			subjects := []linearize.Subject{linearize.Etcdlock}
			if controls {
				subjects = append(subjects, linearize.TTLOnly, linearize.GetThenPut)
			}
			cfg := linearize.Config{Clients: clients, Duration: duration, TTL: ttl, VisualizeDir: visualizeDir, CheckTimeout: checkTimeout,
				ClientCommand: verifyClientCommand}
			return verifyTable(ctx, cmd, env, heal, subjects, fs, runs, cfg)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&endpoints, "endpoints", nil, "etcd client endpoints (host:port, comma-separated) of the cluster to verify")
	f.BoolVar(&embedded, "embedded", false, "start a local 3-member etcd cluster behind fault proxies and verify against it")
	f.IntVar(&clients, "clients", 8, fmt.Sprintf("concurrent clients on the one lock key (at most %d: the checker's cost explodes with overlap)", linearize.MaxClients))
	f.DurationVar(&duration, "duration", 10*time.Second, "length of each run")
	f.DurationVar(&ttl, "ttl", 2*time.Second, "lease TTL of the locks (whole seconds; 1s needs short election settings, as --embedded has)")
	f.StringSliceVar(&faults, "faults", []string{"none", "pause", "sigstop"}, "faults to inject, one run set per fault, or \"all\"")
	f.IntVar(&runs, "runs", 1, "runs per fault and lock")
	f.BoolVar(&controls, "controls", false, "also run the unsafe control locks, which should be caught")
	f.StringVar(&visualizeDir, "visualize-dir", "lock-verify-failures", "directory for Porcupine HTML visualisations of failing histories")
	f.DurationVar(&checkTimeout, "check-timeout", time.Minute, "bound on each linearizability check; a timeout counts as a failure")
	return cmd
}

// verifyClientCommand runs one client of `lock verify` as a child process:
// this binary's hidden `lock verify-client`.
func verifyClientCommand() *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return exec.Command(exe, "lock", "verify-client")
}

func newLockVerifyClientCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "verify-client",
		Short:  "One client of lock verify, run as its child process (not for direct use)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return linearize.ServeClient(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
}

// verifyTable runs every subject under every fault and prints a row each.
func verifyTable(ctx context.Context, cmd *cobra.Command, env linearize.Env, heal func() error,
	subjects []linearize.Subject, faults []linearize.Fault, runs int, cfg linearize.Config) error {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tLOCK\tRUNS\tLINEARIZABLE\tACQUIRES\tFAILED\tREFUSED\tLOST\tUNKNOWN\tPAUSES\tMAX CHECK\tRESULT")
	anyFailed := false
	for _, fault := range faults {
		for _, s := range subjects {
			var ok, acq, failed, refused, lost, unknown, pauses int
			var maxCheck time.Duration
			var files []string
			for range runs {
				res, err := linearize.Run(ctx, env, s, fault, cfg)
				if heal != nil {
					if herr := heal(); herr != nil && err == nil {
						err = herr
					}
				}
				if err != nil {
					tw.Flush()
					return fmt.Errorf("lock verify: %s under %s: %w", s.Name, fault.Name, err)
				}
				if res.Linearizable() {
					ok++
				}
				acq += res.Acquires
				failed += res.Failed
				refused += res.Refused
				lost += res.Lost
				unknown += res.Unknown
				pauses += res.Pauses
				maxCheck = max(maxCheck, res.Check)
				files = append(files, res.Visualizations...)
			}
			verdict := "ok"
			switch {
			case s.Safe && ok < runs:
				verdict, anyFailed = "FAIL", true
			case !s.Safe:
				verdict = fmt.Sprintf("caught %d/%d", runs-ok, runs)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d/%d\t%d\t%d\t%d\t%d\t%d\t%d\t%v\t%s\n", fault.Name, s.Name, runs, ok, runs,
				acq, failed, refused, lost, unknown, pauses, maxCheck.Round(10*time.Microsecond), verdict)
			if s.Safe && len(files) > 0 {
				fmt.Fprintf(tw, "\t\tvisualisations: %s\n", strings.Join(files, ", "))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if anyFailed {
		return errors.New("lock verify: the etcd lock was not linearizable in some runs (see the table)")
	}
	return nil
}

// lockClientFlags are the connection flags of the operator commands.
type lockClientFlags struct {
	endpoints []string
	prefix    string
	timeout   time.Duration
}

func (f *lockClientFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.endpoints, "endpoints", []string{"127.0.0.1:2379"}, "etcd client endpoints (host:port, comma-separated)")
	cmd.Flags().StringVar(&f.prefix, "prefix", "/duohuo/locks/", "etcd key prefix of the lock names")
	cmd.Flags().DurationVar(&f.timeout, "timeout", 10*time.Second, "bound on each etcd call")
}

// clientConfig is the etcd client configuration of every lock command: the
// lock tools' shared one (keep-alive included), for the given endpoints.
func (f *lockClientFlags) clientConfig() clientv3.Config { return etcdlock.ClientConfig(f.endpoints) }

func (f *lockClientFlags) client() (*clientv3.Client, error) {
	cli, err := clientv3.New(f.clientConfig())
	if err != nil {
		return nil, fmt.Errorf("connect to %v: %w", f.endpoints, err)
	}
	return cli, nil
}

func (f *lockClientFlags) locker() (*etcdlock.Locker, *clientv3.Client, error) {
	cli, err := f.client()
	if err != nil {
		return nil, nil, err
	}
	return etcdlock.NewLocker(cli, f.prefix), cli, nil
}

// mutexKey is the key of lock name under the prefix, as etcdlock.Locker
// names it, so that status and release find what acquire holds.
func (f *lockClientFlags) mutexKey(name string) string {
	return strings.TrimSuffix(f.prefix, "/") + "/" + name
}

func newLockStatusCmd() *cobra.Command {
	var cf lockClientFlags
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Print the holder value and fencing token of a lock, or that it is free",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, cli, err := cf.locker()
			if err != nil {
				return err
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), cf.timeout)
			defer cancel()
			h, ok, err := l.IsLocked(ctx, args[0])
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: free\n", args[0])
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: held by %q, token %d\n", args[0], h.Value, h.Token)
			return nil
		},
	}
	cf.add(cmd)
	return cmd
}

func newLockReleaseCmd() *cobra.Command {
	var cf lockClientFlags
	var value string
	cmd := &cobra.Command{
		Use:   "release NAME --value HOLDER",
		Short: "Release a lock held with the given holder value (e.g. left by a stuck process)",
		Long: `release deletes the lock's holder entry if its holder value is HOLDER. The
holder's process is not told: its writes are refused only where the resource
checks fencing tokens.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if value == "" {
				return usagef("lock release: --value is required")
			}
			l, cli, err := cf.locker()
			if err != nil {
				return err
			}
			defer cli.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), cf.timeout)
			defer cancel()
			if err := l.Unlock(ctx, args[0], value); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: released\n", args[0])
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&value, "value", "", "holder value the lock must be held with")
	return cmd
}

// lockLostError ends `lock acquire` when the lock is gone while held: the
// process exits with exitLockLost.
type lockLostError struct {
	name  string
	token lock.Token
	why   string
}

func (e lockLostError) Error() string {
	return fmt.Sprintf("%s: lock lost while held (token %d): %s; work done under it since may overlap another holder", e.name, e.token, e.why)
}

func (e lockLostError) Unwrap() error { return lock.ErrLost }

func (lockLostError) ExitCode() int { return exitLockLost }

func newLockAcquireCmd() *cobra.Command {
	var cf lockClientFlags
	var (
		value string
		ttl   time.Duration
		hold  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "acquire NAME --value HOLDER",
		Short: "Take a lock, print its fencing token, hold it for --hold or until interrupted, release it",
		Long: fmt.Sprintf(`acquire waits (up to --timeout) for the lock, prints its fencing token, and holds
it until --hold has passed or it gets SIGINT or SIGTERM; then it releases the lock.

While it holds the lock it watches it. If the lock is lost (the lease expired,
for example because this process was stopped or cut off for longer than --ttl;
the lease was revoked; or the holder entry was deleted, as "duohuo lock release"
does), it says so on stderr at once and exits with status %d, without waiting
for --hold.

The etcd client pings a connection that goes silent and gives up on it after
%v, then uses another endpoint; a --ttl longer than that (with a second
to spare) keeps the lock through the loss of one member's connection.

Exit status: 0 held and released; %d the lock was lost while held; 1 any other
error (not acquired within --timeout, etcd unreachable, the release failed);
2 usage error.`, exitLockLost, etcdlock.DeadConnTimeout, exitLockLost),
		Example: `  duohuo lock acquire report --value "$(hostname)/$$" --hold 30s --endpoints 10.0.0.1:2379,10.0.0.2:2379`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if value == "" {
				return usagef("lock acquire: --value is required")
			}
			name := args[0]
			cli, err := cf.client()
			if err != nil {
				return err
			}
			defer cli.Close()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			actx, cancel := context.WithTimeout(ctx, cf.timeout)
			defer cancel()
			s, err := etcdlock.NewSession(actx, cli, etcdlock.WithTTL(ttl))
			if err != nil {
				return fmt.Errorf("lock acquire %q: %w", name, err)
			}
			h, err := etcdlock.NewMutex(s, cf.mutexKey(name), value).Lock(actx)
			cancel()
			if err != nil {
				s.Close()
				if actx.Err() != nil && ctx.Err() == nil {
					return fmt.Errorf("lock acquire %q: not acquired within --timeout %v: %w", name, cf.timeout, err)
				}
				return fmt.Errorf("lock acquire %q: %w", name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: acquired by %q, token %d\n", name, value, h.Token())
			if err := holdLock(ctx, cli, h, hold); err != nil {
				// The lease is gone or the entry deleted: nothing to
				// release, and a revoke on a dead connection would wait.
				s.Orphan()
				return lockLostError{name: name, token: h.Token(), why: err.Error()}
			}
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cf.timeout)
			defer cancel()
			if err := h.Unlock(uctx); err != nil {
				s.Orphan()
				if errors.Is(err, lock.ErrLost) {
					return lockLostError{name: name, token: h.Token(), why: "found lost at release"}
				}
				return fmt.Errorf("lock acquire %q: release: %w", name, err)
			}
			// The holder's key is deleted (Unlock above): the lock is
			// released. The lease revoke that follows only tidies up; when
			// it times out (it waits up to the TTL on a slow cluster) the
			// lease has expired by then anyway.
			if err := s.Close(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("lock acquire %q: %w", name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: released\n", name)
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&value, "value", "", "holder value recorded with the lock (e.g. host/pid)")
	cmd.Flags().DurationVar(&ttl, "ttl", 20*time.Second, fmt.Sprintf("lease TTL: how long the lock outlives this process if it dies or stops (more than %v to survive a dead connection to one member)", etcdlock.DeadConnTimeout))
	cmd.Flags().DurationVar(&hold, "hold", 0, "release after this long (0: hold until SIGINT or SIGTERM)")
	return cmd
}

// holdLock returns nil when ctx ends or hold (if positive) has passed, and
// an error saying why as soon as the lock is lost: the session's lease is
// gone (h.Context ends) or the holder's key is deleted (seen by a watch).
func holdLock(ctx context.Context, cli *clientv3.Client, h *etcdlock.Held, hold time.Duration) error {
	var timeout <-chan time.Time
	if hold > 0 {
		t := time.NewTimer(hold)
		defer t.Stop()
		timeout = t.C
	}
	wctx, cancel := context.WithCancel(h.Context())
	defer cancel()
	deleted := make(chan error, 1)
	go func() { deleted <- waitKeyGone(wctx, cli, h.Key(), int64(h.Token())) }()
	defer func() { cancel(); <-deleted }()
	select {
	case <-ctx.Done():
		return nil
	case <-timeout:
		return nil
	case <-h.Context().Done():
		return errors.New("the session's lease expired or was revoked")
	case err := <-deleted:
		deleted <- err // for the deferred wait
		if err != nil {
			return errors.New("the session's lease expired or was revoked")
		}
		return errors.New("the holder entry was deleted")
	}
}

// waitKeyGone returns nil once key, created at revision created, is deleted
// (or replaced), and ctx's error if ctx ends first. It watches the key; when
// a watch breaks (a member restarts, the revision was compacted) it reads
// the key and watches again from there.
func waitKeyGone(ctx context.Context, cli *clientv3.Client, key string, created int64) error {
	next := created
	for {
		for wr := range cli.Watch(ctx, key, clientv3.WithRev(next)) {
			if wr.Err() != nil {
				break
			}
			for _, ev := range wr.Events {
				if ev.Type == mvccpb.DELETE || ev.Kv.CreateRevision != created {
					return nil
				}
			}
			next = wr.Header.Revision + 1
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond): // do not spin on a failing watch
		}
		resp, err := cli.Get(ctx, key)
		if err != nil {
			continue
		}
		if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != created {
			return nil
		}
		next = resp.Header.Revision + 1
	}
}
