package linuxbridge

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/vishvananda/netlink"
)

// resubscribe is the pause before a lost netlink subscription is made again.
const resubscribe = time.Second

// Watch reports link events about the interfaces names returns (read at every
// event): the docker bridge and the OVS bridge's internal port. Each event sends
// a value on the returned channel unless one is pending. It notices what no OVSDB
// event shows: Docker deleting and recreating docker0 at its start (it does so
// whenever daemon.json has default-address-pools), which detaches the OVS bridge,
// or a person detaching it. It also reports the links enslaved to one of those
// bridges, and their removal: containers coming and going (see ports). Watch
// works in the calling goroutine's network namespace and runs until ctx ends; a
// lost subscription is made again.
func Watch(ctx context.Context, names func() []string, log *slog.Logger) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		for ctx.Err() == nil {
			watchOnce(ctx, names, out, log)
			select {
			case <-ctx.Done():
			case <-time.After(resubscribe):
			}
		}
	}()
	return out
}

// watchOnce holds one subscription until it fails or ctx ends.
func watchOnce(ctx context.Context, names func() []string, out chan<- struct{}, log *slog.Logger) {
	updates := make(chan netlink.LinkUpdate, 64)
	done := make(chan struct{})
	defer close(done)
	err := netlink.LinkSubscribeWithOptions(updates, done, netlink.LinkSubscribeOptions{
		ErrorCallback: func(err error) { log.Debug("netlink link subscription", "err", err) },
	})
	if err != nil {
		log.Warn("watch links: subscribe", "err", err)
		return
	}
	ports := ports{}
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-updates:
			if !ok {
				return
			}
			if u.Link == nil || !slices.Contains(names(), u.Link.Attrs().Name) && !ports.event(u, names()) {
				continue
			}
			log.Debug("link event", "link", u.Link.Attrs().Name, "type", u.Header.Type)
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}
}
