package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"paxlock/lockmgr/udphost"
	"paxlock/paxos"
)

type options struct {
	config string
	data   string
	paxosd string
	grace  time.Duration
	quiet  bool // the nodes do not print their lock tables
}

type launcher struct {
	opt  options
	cfg  *udphost.Config
	out  io.Writer
	errw io.Writer
	mu   sync.Mutex // serializes writes to out and errw
	bin  string
}

type child struct {
	id   paxos.ID
	cmd  *exec.Cmd
	args []string
	done chan struct{}
}

func (g *launcher) printf(w io.Writer, format string, args ...any) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fmt.Fprintf(w, format, args...)
}

func (g *launcher) run(ctx context.Context) int {
	bin, err := g.findPaxosd()
	if err != nil {
		g.printf(g.errw, "paxgroup: %v\n", err)
		return 1
	}
	g.bin = bin
	g.printf(g.out, "paxgroup: %d nodes from %s, data under %s, binary %s\n", len(g.cfg.Nodes), g.opt.config, g.opt.data, bin)
	var kids []*child
	exited := make(chan *child, len(g.cfg.Nodes))
	for _, id := range g.cfg.Peers() {
		c, err := g.start(id, exited)
		if err != nil {
			g.printf(g.errw, "paxgroup: node %d: %v\n", id, err)
			g.stopAll(kids)
			return 1
		}
		kids = append(kids, c)
	}
	g.printf(g.out, "paxgroup: running; try `go run ./cmd/lockctl -config %s`; kill -9 a pid to crash a node; Ctrl-C stops the group\n", g.opt.config)
	alive := len(kids)
	for alive > 0 {
		select {
		case c := <-exited:
			alive--
			g.printf(g.out, "paxgroup: node %d exited (%v); restart it with: %s %s\n",
				c.id, c.cmd.ProcessState, bin, shellJoin(c.args))
		case <-ctx.Done():
			g.printf(g.out, "paxgroup: stopping %d nodes\n", alive)
			g.stopAll(kids)
			return 0
		}
	}
	g.printf(g.errw, "paxgroup: every node exited\n")
	return 1
}

// start launches node id as a paxosd process in its own process group (so
// that the terminal's Ctrl-C reaches paxgroup alone, which forwards it).
func (g *launcher) start(id paxos.ID, exited chan<- *child) (*child, error) {
	dir := filepath.Join(g.opt.data, fmt.Sprintf("node%d", id))
	args := []string{"-config", g.opt.config, "-id", fmt.Sprint(id), "-data", dir}
	if g.opt.quiet {
		args = append(args, "-quiet")
	}
	cmd := exec.Command(g.bin, args...)
	w := &prefixWriter{g: g, prefix: fmt.Sprintf("[node%d] ", id)}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", g.bin, err)
	}
	addr, _ := g.cfg.NodeAddr(id)
	g.printf(g.out, "node %d: pid %d, listening on %v, data %s\n", id, cmd.Process.Pid, addr, dir)
	c := &child{id: id, cmd: cmd, args: args, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		w.flush()
		close(c.done)
		exited <- c
	}()
	return c, nil
}

// stopAll sends SIGTERM to every node still running and SIGKILL to those
// still running after the grace period.
func (g *launcher) stopAll(kids []*child) {
	for _, c := range kids {
		c.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(g.opt.grace)
	for _, c := range kids {
		select {
		case <-c.done:
		case <-deadline:
			for _, k := range kids {
				k.cmd.Process.Kill()
			}
			<-c.done
		}
	}
}

// findPaxosd locates the node binary; see the package comment.
func (g *launcher) findPaxosd() (string, error) {
	if g.opt.paxosd != "" {
		return g.opt.paxosd, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "paxosd")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	var buildErr error
	if goBin, err := exec.LookPath("go"); err == nil {
		out, _ := filepath.Abs(filepath.Join(g.opt.data, "bin", "paxosd"))
		g.printf(g.out, "paxgroup: building paxosd: go build -o %s paxlock/cmd/paxosd\n", out)
		cmd := exec.Command(goBin, "build", "-o", out, "paxlock/cmd/paxosd")
		var msg bytes.Buffer
		cmd.Stderr = &msg
		if buildErr = cmd.Run(); buildErr == nil {
			return out, nil
		}
		buildErr = fmt.Errorf("go build: %v: %s", buildErr, bytes.TrimSpace(msg.Bytes()))
	}
	if p, err := exec.LookPath("paxosd"); err == nil {
		return p, nil
	}
	return "", errors.Join(errors.New("cannot find paxosd: pass -paxosd PATH, run from the repository root, or install it with go install ./cmd/paxosd"), buildErr)
}

// prefixWriter writes a node's output line by line, each line prefixed.
type prefixWriter struct {
	g      *launcher
	prefix string
	buf    []byte
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.g.printf(w.g.errw, "%s%s\n", w.prefix, w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *prefixWriter) flush() {
	if len(w.buf) > 0 {
		w.g.printf(w.g.errw, "%s%s\n", w.prefix, w.buf)
		w.buf = nil
	}
}

func shellJoin(args []string) string {
	var b bytes.Buffer
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(a)
	}
	return b.String()
}
