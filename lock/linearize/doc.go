// Package linearize checks a distributed lock the way Jepsen and etcd's
// robustness tests do: clients use the lock to protect a register while
// faults are injected, every operation's invoke and return times are
// recorded, and the histories are checked with Porcupine
// (github.com/anishathalye/porcupine) against two models:
//
//   - a mutex model ([MutexModel]): a holder whose Unlock succeeded held the
//     lock alone from its acquire to its release; a lock lost to lease expiry
//     (Unlock reports [lock.ErrLost]) or with an unknown outcome may have been
//     freed at any time since its acquire began;
//   - an increment model ([RegisterModel]): each critical section reads the
//     register and writes the value plus one; a write the resource refused
//     (stale fencing token) changes nothing, an unknown one may or may not
//     have landed. A lost update is not linearizable.
//
// A checker timeout counts as a failure, as in etcd's robustness tests, and
// every failing history is written as Porcupine's HTML visualisation.
//
// [Etcdlock] is the lock under test (lock/etcdlock with fencing). [TTLOnly]
// and [GetThenPut] are deliberately unsafe controls: the same harness must
// report them as violating, which proves the checker bites. Faults ([Faults])
// are client pauses longer than the TTL, in this process ("pause": the
// client's keep-alives stop) or of a child process ("sigstop": each client
// runs in a process of its own, started by [Config.ClientCommand] and
// serving the run with [ServeClient], which SIGSTOP freezes whole), leader
// kill and restart, member kill, latency on peer traffic (1–5 ms and
// 75±50 ms), and a partition that isolates the leader. All but the pauses
// need control of the servers ([Cluster]): members that can be killed
// and whose listeners sit behind fault proxies (fault/tcpproxy). The duohuo
// command's `lock verify --embedded` runs an embedded cluster like that; the
// package itself only drives clients against the endpoints it is given, and
// does not link an etcd server.
//
// # Usage
//
//	env := linearize.Env{Endpoints: []string{"10.0.0.1:2379", "10.0.0.2:2379"}}
//	res, err := linearize.Run(ctx, env, linearize.Etcdlock, linearize.Faults["pause"],
//		linearize.Config{Clients: 8, Duration: 10 * time.Second, TTL: 2 * time.Second})
//	if err != nil { ... }
//	if !res.Linearizable() { ... res.Visualizations ... }
//
// A program that runs the "sigstop" fault serves as its own client process:
//
//	if len(os.Args) > 1 && os.Args[1] == "client" {
//		err := linearize.ServeClient(ctx, os.Stdin, os.Stdout)
//		...
//	}
//	cfg.ClientCommand = func() *exec.Cmd { return exec.Command(self, "client") }
package linearize
