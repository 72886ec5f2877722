package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

// Signer makes the detached JWS that goes in X-JWS-Signature. The node's *jws.Signer
// satisfies it, so the node passes its own signing key: a receiver verifies a delivery
// against the same JWKS it uses for the node's API responses.
type Signer interface {
	// Detached returns "<protected>..<signature>" over payload, the exact body sent.
	Detached(payload []byte) (string, error)
}

// Clock gives the outbox its notion of time. It is an interface so that tests can move
// time forward to check backoff and retention without sleeping.
type Clock interface {
	Now() time.Time
	// After is time.After: the channel receives once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Defaults and hard upper bounds for Options. The bounds are there so a typo in a
// config file cannot ask for a million goroutines or a gigabyte per payload.
const (
	DefaultWorkers            = 32
	DefaultPerHookConcurrency = 4
	DefaultTimeout            = 10 * time.Second
	DefaultBackoffBase        = 5 * time.Second
	DefaultBackoffMax         = time.Hour
	DefaultMaxAttempts        = 15
	DefaultRetention          = 30 * 24 * time.Hour
	DefaultMaxHooks           = 1000
	DefaultMaxPayloadBytes    = 64 << 10
	DefaultMaxResponseBytes   = 4 << 10

	maxWorkers          = 1024
	maxAttemptsLimit    = 100
	maxHooksLimit       = 100_000
	maxPayloadLimit     = 4 << 20
	maxResponseLimit    = 1 << 20
	minRetention        = time.Minute
	maxTimeout          = 5 * time.Minute
	defaultPruneEvery   = 5 * time.Minute
	recordErrorPause    = time.Second
	maxStoredAttempts   = 20  // attempt history kept per delivery (most recent)
	maxResponseSnippet  = 256 // bytes of a receiver's response body kept per attempt
	maxRecordBatch      = 256 // results written per bbolt transaction
	maxUnreadableLogged = 1000
	pruneBatch          = 500 // records removed per pruning transaction
	maxPruneTxPerRun    = 100 // pruning transactions per run, so pruning never hogs the writer
	defaultListLimit    = 50
	maxListLimit        = 500
	maxURLBytes         = 2048
	minSecretBytes      = 16
	maxSecretBytes      = 256
	maxOwnerBytes       = 256
	maxEventIDBytes     = 256
	maxKindBytes        = 64
	maxKindsPerHook     = 64
	userAgent           = "entente-webhooks/1"
	headerDelivery      = "X-Entente-Delivery"
	headerEvent         = "X-Entente-Event"
	headerKind          = "X-Entente-Kind"
	headerHook          = "X-Entente-Hook"
	headerAttempt       = "X-Entente-Attempt"
	headerHMAC          = "X-Entente-Signature"
	headerJWS           = "X-JWS-Signature"
	deliveryIDPrefix    = "dl_"
	hookIDPrefix        = "wh_"
	hookIDRandomBytes   = 16
	deliveryIDHashBytes = 16
)

// Options configure an Outbox. Only Signer is required; zero values take the defaults
// above.
type Options struct {
	// Signer signs every delivery body (required).
	Signer Signer
	// Client sends the deliveries. It is copied and the copy never follows redirects
	// (a redirect would send a signed delivery to a URL the URL policy never saw), so a
	// 3xx counts as a failed attempt. Default: a client with its own transport, closed
	// by Close. The node should give a client whose dialer refuses the addresses it
	// does not want reached (DNS can change after registration).
	Client *http.Client
	// Workers bounds the HTTP requests in flight over all hooks.
	Workers int
	// PerHookConcurrency bounds the requests in flight to one hook, so a slow or dead
	// receiver holds at most this many workers and the others keep flowing.
	PerHookConcurrency int
	// Timeout bounds one attempt, response body included.
	Timeout time.Duration
	// BackoffBase and BackoffMax shape retries: after the n-th failed attempt the next
	// is scheduled uniformly at random in [0, min(BackoffMax, BackoffBase*2^(n-1))]
	// ("full jitter"), so a receiver coming back up is not hit by every sender at once.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxAttempts is how many failed attempts move a delivery to the dead-letter list.
	MaxAttempts int
	// Retention is how long delivered and dead-lettered deliveries, and the record of
	// each enqueued event (what makes Enqueue idempotent), are kept.
	Retention time.Duration
	// Clock is the time source; default the wall clock.
	Clock Clock
	// URLPolicy is called on every hook URL, at registration and before each attempt,
	// after the built-in checks (http or https, a host, no user info, no fragment).
	// The node uses it to restrict targets; nil accepts what the built-in checks do.
	URLPolicy func(*url.URL) error
	// Logger receives operational messages; it never receives a secret or a hook URL.
	// Default: discard.
	Logger *slog.Logger
	// MaxHooks bounds the registered hooks (over all owners).
	MaxHooks int
	// MaxPayloadBytes bounds an event payload; Enqueue refuses larger ones.
	MaxPayloadBytes int
	// MaxResponseBytes bounds how much of a receiver's response body is read.
	MaxResponseBytes int
}

func (o *Options) resolve() error {
	if o.Signer == nil {
		return fmt.Errorf("%w: options: Signer is required (every delivery is signed)", ErrInvalid)
	}
	type bound struct {
		name     string
		v        *int
		def, max int
	}
	for _, b := range []bound{
		{"Workers", &o.Workers, DefaultWorkers, maxWorkers},
		{"PerHookConcurrency", &o.PerHookConcurrency, DefaultPerHookConcurrency, maxWorkers},
		{"MaxAttempts", &o.MaxAttempts, DefaultMaxAttempts, maxAttemptsLimit},
		{"MaxHooks", &o.MaxHooks, DefaultMaxHooks, maxHooksLimit},
		{"MaxPayloadBytes", &o.MaxPayloadBytes, DefaultMaxPayloadBytes, maxPayloadLimit},
		{"MaxResponseBytes", &o.MaxResponseBytes, DefaultMaxResponseBytes, maxResponseLimit},
	} {
		switch {
		case *b.v == 0:
			*b.v = b.def
		case *b.v < 0 || *b.v > b.max:
			return fmt.Errorf("%w: options: %s %d not in [1, %d]", ErrInvalid, b.name, *b.v, b.max)
		}
	}
	o.PerHookConcurrency = min(o.PerHookConcurrency, o.Workers)
	type dbound struct {
		name     string
		v        *time.Duration
		def, min time.Duration
	}
	for _, b := range []dbound{
		{"Timeout", &o.Timeout, DefaultTimeout, time.Millisecond},
		{"BackoffBase", &o.BackoffBase, DefaultBackoffBase, time.Millisecond},
		{"BackoffMax", &o.BackoffMax, DefaultBackoffMax, time.Millisecond},
		{"Retention", &o.Retention, DefaultRetention, minRetention},
	} {
		switch {
		case *b.v == 0:
			*b.v = b.def
		case *b.v < b.min:
			return fmt.Errorf("%w: options: %s %s is below %s", ErrInvalid, b.name, *b.v, b.min)
		}
	}
	if o.Timeout > maxTimeout {
		return fmt.Errorf("%w: options: Timeout %s is above %s", ErrInvalid, o.Timeout, maxTimeout)
	}
	if o.BackoffMax < o.BackoffBase {
		return fmt.Errorf("%w: options: BackoffMax %s is below BackoffBase %s", ErrInvalid, o.BackoffMax, o.BackoffBase)
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Errors, tested with errors.Is; they are wrapped with detail that never contains a
// secret.
var (
	// ErrInvalid means an argument or option is malformed or out of bounds (a bad URL,
	// kind, event id, cursor, a payload that is not JSON ...).
	ErrInvalid = errors.New("webhooks: invalid")
	// ErrTooLarge means a payload is larger than MaxPayloadBytes.
	ErrTooLarge = errors.New("webhooks: payload too large")
	// ErrLimit means MaxHooks hooks are already registered.
	ErrLimit = errors.New("webhooks: hook limit reached")
	// ErrNotFound means no hook or delivery has that id.
	ErrNotFound = errors.New("webhooks: not found")
	// ErrNotDead means Replay was asked for a delivery that is not dead-lettered.
	ErrNotDead = errors.New("webhooks: delivery is not dead-lettered")
	// ErrInUse means another Outbox is open on the same database; two would deliver
	// everything twice.
	ErrInUse = errors.New("webhooks: an outbox is already open on this database")
)

// open guards against two Outboxes on one *bbolt.DB in this process.
var (
	openMu sync.Mutex
	openDB = map[*bbolt.DB]bool{}
)

// Outbox is the durable webhook outbox. Its methods are safe for concurrent use.
type Outbox struct {
	db     *bbolt.DB
	opt    Options
	client *http.Client
	// ownTransport is closed by Close when the outbox made the client itself.
	ownTransport *http.Transport
	log          *slog.Logger

	wakeCh      chan struct{} // dispatcher: capacity freed, work enqueued (cap 1)
	pruneWakeCh chan struct{} // pruner: a hook was deleted (cap 1)
	stop        chan struct{} // closed by Close: no new attempts
	jobCtx      context.Context
	cancelJobs  context.CancelFunc
	results     chan result // cap maxClaimed: a finished attempt never waits to be queued
	jobs        sync.WaitGroup
	loops       sync.WaitGroup // dispatcher and pruner
	recorded    chan struct{}  // closed when the recorder has written its last batch
	closeOnce   sync.Once
	closeErr    error

	maxClaimed int
	aborted    atomic.Int64 // attempts canceled by Close

	mu sync.Mutex
	// claimed holds the deliveries with an attempt in flight or a result not yet
	// written (value 0), so the dispatcher never starts a second attempt of one
	// delivery. Once the result is committed the value becomes the id of the
	// transaction that wrote it, and the entry stays until the dispatcher reads a
	// snapshot at least that new: an older snapshot still shows the delivery due.
	claimed  map[string]uint64
	busy     map[string]int // hook id -> requests in flight
	inflight int            // requests in flight, all hooks
	// extra counts requests in flight that are not their hook's only one;
	// busyFailing those of failing hooks; failing holds the hooks whose last attempt
	// failed. See admit.
	extra       int
	busyFailing int
	failing     map[string]bool
	rrNext      string // the next dispatch pass starts at the first hook >= this
	// unreadable remembers deliveries already logged as unreadable (bounded), so a
	// damaged record is reported once rather than on every pass.
	unreadable map[string]bool
}

// Open creates the outbox's buckets in db if needed and starts delivering what is due,
// including deliveries that were in flight when the previous process stopped. Only one
// Outbox may be open on a db at a time.
func Open(db *bbolt.DB, opts Options) (*Outbox, error) {
	if db == nil {
		return nil, fmt.Errorf("%w: nil db", ErrInvalid)
	}
	if err := opts.resolve(); err != nil {
		return nil, err
	}
	if err := db.Update(ensureBuckets); err != nil {
		return nil, err
	}
	openMu.Lock()
	if openDB[db] {
		openMu.Unlock()
		return nil, ErrInUse
	}
	openDB[db] = true
	openMu.Unlock()

	o := &Outbox{
		db:          db,
		opt:         opts,
		log:         opts.Logger,
		wakeCh:      make(chan struct{}, 1),
		pruneWakeCh: make(chan struct{}, 1),
		stop:        make(chan struct{}),
		recorded:    make(chan struct{}),
		maxClaimed:  opts.Workers + maxRecordBatch,
		claimed:     map[string]uint64{},
		busy:        map[string]int{},
		unreadable:  map[string]bool{},
		failing:     map[string]bool{},
	}
	o.results = make(chan result, o.maxClaimed)
	o.jobCtx, o.cancelJobs = context.WithCancel(context.Background())
	if opts.Client != nil {
		c := *opts.Client
		o.client = &c
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = opts.PerHookConcurrency
		t.MaxIdleConns = opts.Workers
		o.ownTransport = t
		o.client = &http.Client{Transport: t}
	}
	o.client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	o.loops.Add(2)
	go o.dispatchLoop()
	go o.pruneLoop()
	go o.recordLoop()
	return o, nil
}

// Close stops starting attempts, lets the attempts in flight finish until ctx is done,
// then cancels them, and waits for every goroutine the outbox started. A canceled
// attempt is not counted: its delivery stays pending and the next Open retries it under
// the same delivery id. Close returns ctx.Err() if it canceled any attempt. The
// database stays open (it belongs to the caller); events enqueued after Close are
// delivered after the next Open.
func (o *Outbox) Close(ctx context.Context) error {
	o.closeOnce.Do(func() {
		close(o.stop)
		o.loops.Wait()
		done := make(chan struct{})
		go func() { o.jobs.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			o.cancelJobs()
			<-done
			if o.aborted.Load() > 0 {
				o.closeErr = ctx.Err()
			}
		}
		o.cancelJobs()
		close(o.results)
		<-o.recorded
		if o.ownTransport != nil {
			o.ownTransport.CloseIdleConnections()
		}
		openMu.Lock()
		delete(openDB, o.db)
		openMu.Unlock()
	})
	return o.closeErr
}

// wake tells the dispatcher to look again; it never blocks.
func (o *Outbox) wake() {
	select {
	case o.wakeCh <- struct{}{}:
	default:
	}
}

func (o *Outbox) wakePruner() {
	select {
	case o.pruneWakeCh <- struct{}{}:
	default:
	}
}
