package scenarios

import (
	"fmt"

	"paxlock/lockmgr"
	"paxlock/paxos"
)

// describePacket says on one line what a packet carries: a paxos message
// in paxos.DescribeMessage's form, or a client request or reply. A packet
// that does not decode (corrupted on the way) says why.
func describePacket(b []byte) string {
	kind, body, err := paxos.ParseFrame(b)
	if err != nil {
		return "undecodable: " + err.Error()
	}
	switch kind {
	case paxos.KindPaxos:
		var m paxos.Message
		if err := paxos.DecodeMessageBody(kind, body, &m); err != nil {
			return "undecodable: " + err.Error()
		}
		return paxos.DescribeMessage(&m)
	case lockmgr.KindRequest:
		q, err := lockmgr.DecodeRequest(body)
		if err != nil {
			return "undecodable request: " + err.Error()
		}
		return fmt.Sprintf("request %v#%d %v(%q)", q.Client, q.Seq, q.Op, q.Name)
	case lockmgr.KindReply:
		p, err := lockmgr.DecodeReply(body)
		if err != nil {
			return "undecodable reply: " + err.Error()
		}
		return fmt.Sprintf("reply %v#%d %s leader=%d", p.Client, p.Seq, replyStatus(p), p.Leader)
	}
	return fmt.Sprintf("frame of kind %d", kind)
}

func replyStatus(p lockmgr.Reply) string {
	switch p.Status {
	case lockmgr.Redirect:
		return "redirect"
	case lockmgr.Report:
		return "report"
	}
	return lockmgr.Result{Status: p.Status, Token: p.Token, Holder: p.Holder}.String()
}
