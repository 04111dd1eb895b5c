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
	// restart: a node that exits is started again (after restartDelay).
	restart bool
}

// startTimeout bounds how long a node may take to say it listens.
const startTimeout = 15 * time.Second

// restartDelay paces restarts of a node that keeps exiting.
const restartDelay = time.Second

type launcher struct {
	opt  options
	cfg  *udphost.Config
	out  io.Writer
	errw io.Writer
	mu   sync.Mutex // serializes writes to out and errw
	bin  string
}

type child struct {
	id        paxos.ID
	cmd       *exec.Cmd
	args      []string
	dir       string
	done      chan struct{}
	listening chan struct{} // closed when the node logs that it listens
	once      sync.Once
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
	kids := map[paxos.ID]*child{}
	exited := make(chan *child, 2*len(g.cfg.Nodes))
	for _, id := range g.cfg.Peers() {
		c, err := g.start(id, exited)
		if err != nil {
			g.printf(g.errw, "paxgroup: node %d: %v\n", id, err)
			g.stopAll(kids)
			return 1
		}
		kids[id] = c
	}
	// A node counts as running once it says it listens; one that exits
	// first failed to start (its own log says why), and the group is not
	// left running short of it.
	for _, id := range g.cfg.Peers() {
		switch why := g.awaitListening(ctx, kids[id]); why {
		case "":
		case "stopped":
			g.printf(g.out, "paxgroup: stopping %d nodes\n", len(kids))
			g.stopAll(kids)
			return 0
		default:
			g.printf(g.errw, "paxgroup: node %d failed to start (%s): see its lines above; stopping the group\n", id, why)
			g.stopAll(kids)
			return 1
		}
	}
	how := "kill -9 a pid to crash a node"
	if g.opt.restart {
		how += " (paxgroup restarts it)"
	}
	g.printf(g.out, "paxgroup: running; try `go run ./cmd/lockctl -config %s`; %s; Ctrl-C stops the group\n", g.opt.config, how)
	restartAt := time.NewTimer(time.Hour)
	restartAt.Stop()
	var due []paxos.ID
	alive := len(kids)
	for alive > 0 || len(due) > 0 {
		select {
		case c := <-exited:
			alive--
			if !g.opt.restart {
				g.printf(g.out, "paxgroup: node %d exited (%v); restart it with: %s %s (or run paxgroup -restart)\n",
					c.id, c.cmd.ProcessState, bin, shellJoin(c.args))
				continue
			}
			g.printf(g.out, "paxgroup: node %d exited (%v); restarting it in %v\n", c.id, c.cmd.ProcessState, restartDelay)
			due = append(due, c.id)
			restartAt.Reset(restartDelay)
		case <-restartAt.C:
			for _, id := range due {
				c, err := g.start(id, exited)
				if err != nil {
					g.printf(g.errw, "paxgroup: node %d: %v\n", id, err)
					continue
				}
				kids[id] = c
				alive++
				go func() {
					if g.awaitListening(ctx, c) == "" {
						g.printf(g.out, "paxgroup: node %d restarted\n", c.id)
					}
				}()
			}
			due = due[:0]
		case <-ctx.Done():
			g.printf(g.out, "paxgroup: stopping %d nodes\n", alive)
			g.stopAll(kids)
			return 0
		}
	}
	g.printf(g.errw, "paxgroup: every node exited\n")
	return 1
}

// awaitListening waits until c says it listens (""), or says why not:
// how it exited, that it took too long, or "stopped" (ctx ended).
func (g *launcher) awaitListening(ctx context.Context, c *child) string {
	select {
	case <-c.listening:
		addr, _ := g.cfg.NodeAddr(c.id)
		g.printf(g.out, "node %d: pid %d, listening on %v, data %s\n", c.id, c.cmd.Process.Pid, addr, c.dir)
		return ""
	case <-c.done:
		return c.cmd.ProcessState.String() // read after Wait returned
	case <-time.After(startTimeout):
		return fmt.Sprintf("not listening after %v", startTimeout)
	case <-ctx.Done():
		return "stopped"
	}
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
	c := &child{id: id, cmd: cmd, args: args, dir: dir, done: make(chan struct{}), listening: make(chan struct{})}
	w := &prefixWriter{g: g, prefix: fmt.Sprintf("[node%d] ", id), onLine: func(line []byte) {
		if bytes.Contains(line, []byte("msg=listening")) {
			c.once.Do(func() { close(c.listening) })
		}
	}}
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", g.bin, err)
	}
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
func (g *launcher) stopAll(kids map[paxos.ID]*child) {
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
	onLine func(line []byte)
}

func (w *prefixWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.g.printf(w.g.errw, "%s%s\n", w.prefix, w.buf[:i])
		if w.onLine != nil {
			w.onLine(w.buf[:i])
		}
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
