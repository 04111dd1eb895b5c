package lockmgr

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"paxlock/paxos"
)

func genCommand() *rapid.Generator[Command] {
	return rapid.Custom(func(t *rapid.T) Command {
		c := Command{
			Client: ClientID(rapid.Uint64().Draw(t, "client")),
			Seq:    rapid.Uint64().Draw(t, "seq"),
			Op:     rapid.SampledFrom([]Op{OpLock, OpTryLock, OpUnlock, OpRead, OpOpen, OpClose, OpExpire, OpLead}).Draw(t, "op"),
		}
		in, _ := c.Op.info()
		switch {
		case c.Op == OpOpen:
			c.Client |= NonceBit
		case in.session:
			c.Client &^= NonceBit
		}
		if in.named {
			c.Name = string(rapid.SliceOfN(rapid.Byte(), 1, NameBytesMax).Draw(t, "name"))
		}
		if in.args {
			c.Arg = rapid.Uint64().Draw(t, "arg")
			c.Node = paxos.ID(rapid.Uint32().Draw(t, "node"))
		}
		if in.keyed {
			copy(c.Key[:], rapid.SliceOfN(rapid.Byte(), KeyBytes, KeyBytes).Draw(t, "key"))
		}
		return c
	})
}

func TestCommandRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c := genCommand().Draw(t, "cmd")
		prefix := rapid.SliceOfN(rapid.Byte(), 0, 8).Draw(t, "prefix")
		b := c.Encode(bytes.Clone(prefix))
		if !bytes.Equal(b[:len(prefix)], prefix) {
			t.Fatalf("Encode clobbered dst: %x", b)
		}
		if len(b)-len(prefix) > CommandBytesMax {
			t.Fatalf("encoded %d bytes, max %d", len(b)-len(prefix), CommandBytesMax)
		}
		got, err := DecodeCommand(b[len(prefix):])
		if err != nil || got != c {
			t.Fatalf("DecodeCommand(Encode(%v)) = %v, %v", c, got, err)
		}
	})
}

// TestDecodeCommandArbitraryBytes: no panic on any input, and whatever is
// accepted is canonical (re-encodes to the same bytes).
func TestDecodeCommandArbitraryBytes(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		b := rapid.SliceOfN(rapid.Byte(), 0, 200).Draw(t, "bytes")
		checkDecode(t, b)
	})
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(Command{Client: 7, Seq: 1, Op: OpLock, Name: "1"}.Encode(nil))
	f.Add(Command{Client: 1 << 63, Seq: 1<<64 - 1, Op: OpUnlock, Name: longName}.Encode(nil))
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b) })
}

func checkDecode(t interface{ Fatalf(string, ...any) }, b []byte) {
	c, err := DecodeCommand(b)
	if err != nil {
		if !errors.Is(err, ErrBadCommand) {
			t.Fatalf("error %v does not wrap ErrBadCommand", err)
		}
		return
	}
	if again := c.Encode(nil); !bytes.Equal(again, b) {
		t.Fatalf("accepted %x but it re-encodes to %x", b, again)
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	good := Command{Client: 300, Seq: 2, Op: OpTryLock, Name: "ab", Key: Key{1}}.Encode(nil) // 02 ac02 02 02 'a' 'b' key
	key := make([]byte, KeyBytes)
	with := func(b ...byte) []byte { return append(b, key...) }
	tests := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "malformed byte"},
		{"op zero", []byte{0, 1, 1, 1, 'a'}, "unknown op"},
		{"status is not logged", []byte{4, 1, 1, 1, 'a'}, "not logged"},
		{"op twelve", []byte{12, 1, 1, 1, 'a'}, "unknown op"},
		{"keepalive is not logged", with(7, 1, 1, 0), "not logged"},
		{"read with a name", with(5, 1, 1, 1, 'a'), "takes no name"},
		{"open without a nonce", with(6, 1, 1, 0, 1, 1), "client"},
		{"session op from a nonce", with(8, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1, 0), "client"},
		{"truncated key", good[:len(good)-1], "malformed bytes"},
		{"truncated client", good[:2], "malformed varint"},
		{"truncated seq", good[:3], "malformed varint"},
		{"no name length", good[:4], "malformed byte"},
		{"truncated name", good[:len(good)-KeyBytes-1], "malformed bytes"},
		{"trailing byte", append(bytes.Clone(good), 0), "trailing bytes"},
		{"empty name", with(1, 1, 1, 0), "name length 0"},
		{"long name", append([]byte{1, 1, 1, NameBytesMax + 1}, strings.Repeat("x", NameBytesMax+1)...), "malformed name length"},
		{"padded varint", []byte{1, 0x81, 0x00, 1, 1, 'a'}, "non-minimal varint"},
		{"overlong varint", append([]byte{1}, bytes.Repeat([]byte{0xff}, 11)...), "malformed varint"},
	}
	if _, err := DecodeCommand(good); err != nil {
		t.Fatalf("control: %v", err)
	}
	for _, tt := range tests {
		_, err := DecodeCommand(tt.b)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: DecodeCommand(%x) error %v, want %q", tt.name, tt.b, err, tt.want)
		}
	}
}
