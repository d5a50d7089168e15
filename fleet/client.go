package fleet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// Config says how to reach etcd.
type Config struct {
	Endpoints []string // http:// or https:// URLs
	Insecure  bool     // allow http:// (labs only)
	CA        string   // PEM file of the CA that signed etcd's certificate
	Cert, Key string   // PEM files of this host's client certificate
	Cluster   string
}

// CallTimeout bounds every etcd call that is not a watch or a keepalive stream.
const CallTimeout = 5 * time.Second

// Client is a connection to the etcd of one cluster.
type Client struct {
	etcd *clientv3.Client
	Keys Keys
}

// Connect checks cfg and connects. It does not wait for etcd to answer: every
// call has its own deadline, and gRPC reconnects with a backoff capped at 2 s.
func Connect(cfg Config) (*Client, error) {
	if err := checkCluster(cfg.Cluster); err != nil {
		return nil, err
	}
	if len(cfg.Endpoints) == 0 {
		return nil, refused("Endpoints", "", errors.New("no endpoint"))
	}
	secure := false
	for _, e := range cfg.Endpoints {
		switch {
		case strings.HasPrefix(e, "https://"):
			secure = true
		case strings.HasPrefix(e, "http://"):
			if !cfg.Insecure {
				return nil, refused("Endpoints", e, ErrPlainHTTP)
			}
		default:
			return nil, refused("Endpoints", e, errors.New("want an http:// or https:// URL"))
		}
	}
	var tlsCfg *tls.Config
	if secure {
		var err error
		if tlsCfg, err = loadTLS(cfg); err != nil {
			return nil, err
		}
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:            cfg.Endpoints,
		TLS:                  tlsCfg,
		DialTimeout:          CallTimeout,
		DialKeepAliveTime:    10 * time.Second, // the server refuses pings more often than every 5 s
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               zap.NewNop(),
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 200 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		})},
	})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	return &Client{etcd: c, Keys: Keys{Cluster: cfg.Cluster}}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.etcd.Close() }

func checkCluster(name string) error {
	if name == "" {
		return refused("Cluster", "", errors.New("missing: name the fleet"))
	}
	for _, r := range name {
		ok := r == '-' || r == '_' || r == '.' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
		if !ok {
			return refused("Cluster", strconv.Quote(name), errors.New("use letters, digits, '-', '_' and '.'"))
		}
	}
	return nil
}

func loadTLS(cfg Config) (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CA != "" {
		pem, err := os.ReadFile(cfg.CA)
		if err != nil {
			return nil, &SettingError{Op: "read", Settings: []string{"CA"}, Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, refused("CA", cfg.CA, errors.New("no PEM certificate in it"))
		}
		t.RootCAs = pool
	}
	if (cfg.Cert == "") != (cfg.Key == "") {
		return nil, &SettingError{Settings: []string{"Cert", "Key"}, Err: ErrGoTogether}
	}
	if cfg.Cert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
		if err != nil {
			return nil, &SettingError{Op: "load", Settings: []string{"Cert", "Key"}, Values: []string{cfg.Cert, cfg.Key}, Err: err}
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}

// call runs f with CallTimeout.
func call[T any](ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	cctx, cancel := context.WithTimeout(ctx, CallTimeout)
	defer cancel()
	return f(cctx)
}
