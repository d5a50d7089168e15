package openflow

import (
	"fmt"
	"testing"
)

func TestPathMembers(t *testing.T) {
	out := []byte(` table=9, priority=100,reg6=0x8002 actions=bundle_load(eth_src,0,active_backup,ofport,NXM_NX_REG7[0..15],members:32770,32771,32775),resubmit(,10)
 table=9, priority=100,reg6=0x8003 actions=bundle_load(eth_src,0,active_backup,ofport,NXM_NX_REG7[0..15],members:32771,32770),resubmit(,10)
 table=9, priority=100,reg6=0x8004 actions=load:0->NXM_NX_TUN_ID[],output:32772
`)
	got := fmt.Sprint(pathMembers(out))
	if want := "map[32770:[32770 32771 32775] 32771:[32771 32770] 32772:[32772]]"; got != want {
		t.Errorf("pathMembers = %s, want %s", got, want)
	}
}
