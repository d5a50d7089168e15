package openflow

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ovsmesh/ovsmesh/topology"
)

// The count of a verified table (check.go) is one OpenFlow request, which the
// Table sends itself on the bridge's management socket when WithDirectCount is
// given: at 1000 hosts an ovs-ofctl dump-aggregate took 28-37 ms (a process, and
// a second connection asking for the ports' names), the request alone 1.7 ms.
// The request is the one `ovs-ofctl -O OpenFlow14 dump-aggregate BRIDGE
// cookie=C/-1` sends (an aggregate statistics request, OFPMP_AGGREGATE), after
// the same hello, and so is the answer. Nothing else is spoken here: the dump
// and the bundle stay ovs-ofctl's (see docs/decisions.md).

// OpenFlow 1.4 (wire version 0x05) message types and the aggregate request.
const (
	ofVersion14        = 0x05
	ofptHello          = 0
	ofptError          = 1
	ofptEchoRequest    = 2
	ofptEchoReply      = 3
	ofptMultipartReq   = 18
	ofptMultipartReply = 19
	ofpmpAggregate     = 2
	ofHeaderLen        = 8
	// aggregateReqLen: header, multipart header (type, flags, pad), table_id
	// and pad, out_port, out_group, pad, cookie, cookie_mask, and an empty OXM
	// match (type 1, length 4, 4 bytes of padding).
	aggregateReqLen = ofHeaderLen + 8 + 4 + 4 + 4 + 4 + 8 + 8 + 8
	countXID        = 1
)

// WithDirectCount makes the Table count its flows over the bridge's management
// socket instead of with ovs-ofctl dump-aggregate: a bridge name resolves, as
// ovs-ofctl resolves it, to rundir/NAME.mgmt ("" means $OVS_RUNDIR, else
// /var/run/openvswitch); a "unix:PATH" bridge is that socket. Any other
// connection name (tcp:, ssl:) is still counted by ovs-ofctl.
func WithDirectCount(rundir string) Option {
	return func(t *Table) {
		if strings.Contains(t.bridge, ":") && !strings.HasPrefix(t.bridge, "unix:") {
			return
		}
		if rundir == "" {
			rundir = os.Getenv("OVS_RUNDIR")
		}
		if rundir == "" {
			rundir = "/var/run/openvswitch"
		}
		t.mgmt = filepath.Join(rundir, t.bridge+".mgmt")
		if p, ok := strings.CutPrefix(t.bridge, "unix:"); ok {
			t.mgmt = p
		}
	}
}

// countDirect returns the number of flows with ovsmesh's cookie on the bridge, as
// count does, over one connection to its management socket. A socket that does
// not exist is a bridge that does not exist, reported in ovs-ofctl's words (the
// callers look for them). The context and the Table's timeout bound it.
func (t *Table) countDirect(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", t.mgmt)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%s is not a bridge or a socket", t.bridge)
	}
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, err
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	return aggregateCount(conn, topology.FlowCookie)
}

// aggregateCount speaks OpenFlow 1.4 on conn: hello, one aggregate request for
// the flows with cookie (all tables, any port and group, mask all ones), and
// the flow_count of its reply. An echo request meanwhile is answered, other
// messages are skipped; an OpenFlow error is returned with its type and code.
func aggregateCount(conn io.ReadWriter, cookie uint64) (int, error) {
	// The hello says OpenFlow 1.4 only (a version bitmap element with bit 5
	// set), as ovs-ofctl -O OpenFlow14 does: a bridge without it refuses the
	// hello instead of settling on an older version.
	hello := append(header(ofptHello, ofHeaderLen+8, 0), 0, 1, 0, 8, 0, 0, 0, 1<<ofVersion14)
	if _, err := conn.Write(hello); err != nil {
		return 0, fmt.Errorf("openflow hello: %w", err)
	}
	typ, _, body, err := readMsg(conn)
	if err != nil {
		return 0, fmt.Errorf("openflow hello: %w", err)
	}
	if typ != ofptHello {
		return 0, fmt.Errorf("openflow: got message type %d, want hello", typ)
	}
	if !offers14(body) {
		return 0, errors.New("openflow hello: the bridge does not offer OpenFlow 1.4 (see its protocols)")
	}
	req := header(ofptMultipartReq, aggregateReqLen, countXID)
	req = binary.BigEndian.AppendUint16(req, ofpmpAggregate)
	req = append(req, 0, 0, 0, 0, 0, 0)                  // flags, pad
	req = append(req, 0xff, 0, 0, 0)                     // table_id OFPTT_ALL, pad
	req = binary.BigEndian.AppendUint32(req, 0xffffffff) // out_port OFPP_ANY
	req = binary.BigEndian.AppendUint32(req, 0xffffffff) // out_group OFPG_ANY
	req = append(req, 0, 0, 0, 0)
	req = binary.BigEndian.AppendUint64(req, cookie)
	req = binary.BigEndian.AppendUint64(req, math.MaxUint64)
	req = append(req, 0, 1, 0, 4, 0, 0, 0, 0) // OFPMT_OXM, length 4, no field
	if _, err := conn.Write(req); err != nil {
		return 0, fmt.Errorf("openflow aggregate request: %w", err)
	}
	for {
		typ, xid, body, err := readMsg(conn)
		if err != nil {
			return 0, fmt.Errorf("openflow aggregate reply: %w", err)
		}
		switch {
		case typ == ofptEchoRequest:
			echo := append(header(ofptEchoReply, ofHeaderLen+len(body), xid), body...)
			if _, err := conn.Write(echo); err != nil {
				return 0, fmt.Errorf("openflow echo reply: %w", err)
			}
		case typ == ofptError && len(body) >= 4:
			// To the request, or to the hello (no common version: the bridge's
			// protocols lack OpenFlow 1.4).
			to := "the aggregate request"
			if xid != countXID {
				to = "the hello"
			}
			return 0, fmt.Errorf("openflow error type %d code %d to %s",
				binary.BigEndian.Uint16(body), binary.BigEndian.Uint16(body[2:]), to)
		case typ == ofptMultipartReply && xid == countXID:
			// multipart type, flags, pad; packet_count, byte_count, flow_count.
			if len(body) < 8+24 || binary.BigEndian.Uint16(body) != ofpmpAggregate {
				return 0, fmt.Errorf("openflow: malformed aggregate reply (%d bytes)", len(body))
			}
			return int(binary.BigEndian.Uint32(body[8+16:])), nil
		}
	}
}

// offers14 says whether a peer's hello body offers OpenFlow 1.4: its version
// bitmap element has bit 5 set. The hellos of ovs-vswitchd since OpenFlow 1.3
// carry one; a hello without is not read as an offer.
func offers14(body []byte) bool {
	for len(body) >= 4 {
		typ, n := binary.BigEndian.Uint16(body), int(binary.BigEndian.Uint16(body[2:]))
		if n < 4 || n > len(body) {
			return false
		}
		if typ == 1 && n >= 8 { // OFPHET_VERSIONBITMAP
			return binary.BigEndian.Uint32(body[4:])&(1<<ofVersion14) != 0
		}
		next := (n + 7) / 8 * 8 // elements are padded to 8 bytes
		if next >= len(body) {
			break
		}
		body = body[next:]
	}
	return false
}

// header returns an OpenFlow 1.4 header for a message of length bytes.
func header(typ uint8, length int, xid uint32) []byte {
	h := binary.BigEndian.AppendUint16([]byte{ofVersion14, typ}, uint16(length))
	return binary.BigEndian.AppendUint32(h, xid)
}

// readMsg reads one OpenFlow message and returns its type, xid and body.
func readMsg(r io.Reader) (typ uint8, xid uint32, body []byte, err error) {
	var h [ofHeaderLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(h[2:]))
	if n < ofHeaderLen {
		return 0, 0, nil, fmt.Errorf("openflow message of length %d", n)
	}
	body = make([]byte, n-ofHeaderLen)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, 0, nil, err
	}
	return h[1], binary.BigEndian.Uint32(h[4:]), body, nil
}
