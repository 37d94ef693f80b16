package gateway

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exportQueue is the span processor between the request path and the OTLP
// exporter: a bounded queue that a request never waits on (a full queue
// drops the span and counts it), drained by one goroutine that exports
// batches, each within the export timeout. The SDK's BatchSpanProcessor
// does the same but keeps its drop count to itself; this one counts in
// duohuo_tracing_spans_dropped_total.
type exportQueue struct {
	exp     sdktrace.SpanExporter
	ch      chan sdktrace.ReadOnlySpan
	batch   int
	timeout time.Duration
	log     *slog.Logger

	exported prometheus.Counter
	dropFull prometheus.Counter
	dropFail prometheus.Counter

	stop     chan struct{}      // closed by Shutdown
	done     chan struct{}      // closed when the loop has returned
	ctx      context.Context    // of every export; cancelled when Shutdown gives up
	cancel   context.CancelFunc // ends ctx
	flush    chan chan struct{} // ForceFlush asks the loop to export what it has
	stopOnce sync.Once
	errMu    sync.Mutex // guards lastLog
	lastLog  time.Time  // when an export failure was last logged
}

// exportInterval is how long a span may wait for its batch to fill.
const exportInterval = time.Second

func newExportQueue(exp sdktrace.SpanExporter, size, batch int, timeout time.Duration, reg prometheus.Registerer, log *slog.Logger) (*exportQueue, error) {
	ctx, cancel := context.WithCancel(context.Background())
	q := &exportQueue{
		exp: exp, ch: make(chan sdktrace.ReadOnlySpan, size), batch: max(1, min(batch, size)), timeout: timeout, log: log,
		exported: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "duohuo_tracing_spans_exported_total",
			Help: "Spans the OTLP receiver accepted.",
		}),
		stop: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel, flush: make(chan chan struct{}),
	}
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "duohuo_tracing_spans_dropped_total",
		Help: "Spans not exported: reason queue_full (the export queue was full: the receiver is slow or away), export_failed (the receiver refused them or did not answer within tracing.timeout).",
	}, []string{"reason"})
	q.dropFull, q.dropFail = dropped.WithLabelValues("queue_full"), dropped.WithLabelValues("export_failed")
	for _, c := range []prometheus.Collector{q.exported, dropped} {
		if err := reg.Register(c); err != nil {
			cancel()
			return nil, err
		}
	}
	go q.loop()
	return q, nil
}

// OnStart does nothing: spans are queued when they end.
func (q *exportQueue) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span for export; it never blocks.
func (q *exportQueue) OnEnd(s sdktrace.ReadOnlySpan) {
	if s.SpanContext().IsSampled() {
		q.push(s)
	}
}

// push queues s, or drops it when the queue is full or shut down.
func (q *exportQueue) push(s sdktrace.ReadOnlySpan) {
	select {
	case <-q.stop:
		q.dropFull.Inc()
		return
	default:
	}
	select {
	case q.ch <- s:
	default:
		q.dropFull.Inc()
	}
}

func (q *exportQueue) loop() {
	defer close(q.done)
	buf := make([]sdktrace.ReadOnlySpan, 0, q.batch)
	t := time.NewTimer(exportInterval)
	defer t.Stop()
	for {
		select {
		case s := <-q.ch:
			buf = append(buf, s)
			if len(buf) < q.batch {
				continue
			}
		case <-t.C:
			t.Reset(exportInterval)
		case ack := <-q.flush:
			buf = q.drain(buf)
			close(ack)
			continue
		case <-q.stop:
			q.drain(buf)
			return
		}
		buf = q.export(buf)
	}
}

// drain exports buf and everything queued, and returns buf emptied.
func (q *exportQueue) drain(buf []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	for {
		select {
		case s := <-q.ch:
			buf = append(buf, s)
			if len(buf) >= q.batch {
				buf = q.export(buf)
			}
			continue
		default:
		}
		return q.export(buf)
	}
}

// export sends buf within the export timeout and returns it emptied.
func (q *exportQueue) export(buf []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	if len(buf) == 0 || q.ctx.Err() != nil {
		q.dropFail.Add(float64(len(buf)))
		clear(buf)
		return buf[:0]
	}
	ctx, cancel := context.WithTimeout(q.ctx, q.timeout)
	err := q.exp.ExportSpans(ctx, buf)
	cancel()
	if err != nil {
		q.dropFail.Add(float64(len(buf)))
		q.logFailure(err, len(buf))
	} else {
		q.exported.Add(float64(len(buf)))
	}
	clear(buf) // let the spans go
	return buf[:0]
}

// logFailure logs an export failure at most once a minute.
func (q *exportQueue) logFailure(err error, n int) {
	q.errMu.Lock()
	due := time.Since(q.lastLog) >= time.Minute
	if due {
		q.lastLog = time.Now()
	}
	q.errMu.Unlock()
	if due {
		q.log.Warn("trace export failed; spans dropped (logged at most once a minute)", "spans", n, "err", err)
	}
}

// ForceFlush exports what is queued, until ctx ends.
func (q *exportQueue) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case q.flush <- ack:
	case <-q.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is queued until ctx ends, then stops the loop
// (cancelling an export in flight) and closes the exporter.
func (q *exportQueue) Shutdown(ctx context.Context) error {
	q.stopOnce.Do(func() { close(q.stop) })
	var err error
	select {
	case <-q.done:
	case <-ctx.Done():
		err = ctx.Err()
		q.cancel()
		<-q.done
	}
	q.cancel()
	// The exporter's own shutdown waits for nothing more: bound it too.
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if ctx.Err() == nil {
		sctx, cancel = context.WithCancel(ctx)
		defer cancel()
	}
	if e := q.exp.Shutdown(sctx); e != nil && !errors.Is(e, context.Canceled) {
		err = errors.Join(err, e)
	}
	return err
}
