package replica

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the store's Prometheus metrics, all named duohuo_replica_*.
type metrics struct {
	writes          prometheus.Counter
	objects         prometheus.Gauge
	checkpoints     prometheus.Counter
	fsync           timerHistogram
	sent            *prometheus.CounterVec // by message type
	sentBytes       *prometheus.CounterVec
	received        *prometheus.CounterVec
	redundant       prometheus.Counter
	rejected        *prometheus.CounterVec // by reason
	lag             prometheus.Histogram
	members         prometheus.Gauge
	rounds          prometheus.Counter
	transfers       prometheus.Counter
	dropped         *prometheus.CounterVec
	gcFrontier      prometheus.Gauge
	gcCollected     prometheus.Counter
	gcPending       prometheus.Gauge
	diskErrors      *prometheus.CounterVec // by operation
	quarantined     prometheus.Gauge
	joins           *prometheus.CounterVec // by result
	decryptFailures prometheus.Counter
	memberEvents    *prometheus.CounterVec // by event
	kindConflicts   prometheus.Gauge
	peerOffset      *prometheus.GaugeVec // by peer
}

type timerHistogram struct{ h prometheus.Histogram }

// Start returns a function that observes the time since Start.
func (t timerHistogram) Start() func() {
	start := time.Now()
	return func() { t.h.Observe(time.Since(start).Seconds()) }
}

// newMetrics creates the metrics and registers them, with a gauge of wm's
// changes not yet durable, on reg unless it is nil.
func newMetrics(reg prometheus.Registerer, wm *watermark) *metrics {
	m := &metrics{
		writes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_replica_writes_total", Help: "Local writes acknowledged (durable)."}),
		objects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "duohuo_replica_objects", Help: "Objects held by this replica."}),
		checkpoints: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_replica_checkpoints_total", Help: "Checkpoints of dirty objects that emptied the delta log."}),
		fsync: timerHistogram{prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "duohuo_replica_commit_seconds", Help: "Time to commit (fsync) one batch of deltas.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)})},
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_replica_messages_sent_total", Help: "Replication messages sent, by type (delta, summary, state)."}, []string{"type"}),
		sentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_replica_sent_bytes_total", Help: "Bytes of replication messages sent, by type."}, []string{"type"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_replica_messages_received_total", Help: "Replication messages received, by type."}, []string{"type"}),
		redundant: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_replica_redundant_deltas_total", Help: "Received deltas or states that brought nothing new."}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_replica_rejected_total", Help: "Received items refused, by reason: malformed, clock (the sender's time more than the max clock offset ahead of this site's clock)."}, []string{"reason"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "duohuo_replica_lag_seconds", Help: "Time from a write at its origin (hybrid clock) to its arrival here.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		members: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "duohuo_replica_members", Help: "Sites this replica sees alive, itself included."}),
		rounds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_replica_antientropy_rounds_total", Help: "Anti-entropy rounds started."}),
		transfers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_replica_state_transfers_total", Help: "Object states sent to repair a peer."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_replica_dropped_total", Help: "Messages dropped before sending or applying, by reason (queue_full, send_error)."}, []string{"reason"}),
		gcFrontier: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "duohuo_replica_gc_frontier_seconds", Help: "Stability frontier (Unix seconds of hybrid time): every write stamped up to it has reached every member site; 0 until every member has acknowledged."}),
		gcCollected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_replica_gc_collected_total", Help: "LWW-element-set tombstones and stale stamps dropped once every member had seen them."}),
		gcPending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "duohuo_replica_gc_pending", Help: "LWW-element-set tombstones held, waiting for every member to acknowledge their removal."}),
		diskErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_replica_disk_errors_total", Help: "Failed disk writes, by operation (commit, checkpoint); states and acks wait until a checkpoint succeeds."}, []string{"op"}),
		quarantined: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "duohuo_replica_quarantined_records", Help: "Records of the store file that recovery could not load, kept aside in its quarantine bucket (duohuo kv status lists them)."}),
		joins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_replica_join_attempts_total", Help: "Attempts to join a configured or formerly seen site, by result (ok, error); retried in the background with backoff."}, []string{"result"}),
		decryptFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_replica_decrypt_failures_total", Help: "Gossip packets and streams refused because no key of this site could decrypt them (or one side does not encrypt): another site's secret key differs."}),
		memberEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "duohuo_replica_member_events_total", Help: "Members this site suspected (no answer to its probes) or declared dead (suspicion not refuted in time), by event."}, []string{"event"}),
		kindConflicts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "duohuo_replica_kind_conflicts", Help: "States of a losing kind kept aside: an object created as two kinds at different sites (duohuo kv status lists them)."}),
		peerOffset: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "duohuo_replica_peer_clock_offset_seconds", Help: "How far each peer's clock runs ahead of this site's (negative: behind), measured from the hybrid times of its latest messages."}, []string{"peer"}),
	}
	if reg != nil {
		reg.MustRegister(m.writes, m.objects, m.checkpoints, m.fsync.h, m.sent, m.sentBytes, m.received,
			m.redundant, m.rejected, m.lag, m.members, m.rounds, m.transfers, m.dropped,
			m.gcFrontier, m.gcCollected, m.gcPending, m.diskErrors, m.quarantined, m.joins, m.decryptFailures, m.memberEvents,
			m.kindConflicts, m.peerOffset,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "duohuo_replica_undurable_changes",
				Help: "Changes applied in memory but not yet fsynced; states and acks to other sites wait for them.",
			}, func() float64 { return float64(wm.count()) }))
	}
	return m
}
