package scenarios

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"paxlock/scenarios/check"

	"github.com/anishathalye/porcupine"
)

// WriteArtifacts writes what a failure leaves behind into dir: the
// simulator trace (trace.txt, one describe line per event; run with
// Options.KeepTrace), porcupine's HTML view of the history annotated with
// crashes, partitions and leader changes (history.html), the scenario as
// data (scenario.json), the scenario as a file that reproduces the run on
// its own (scenario.txt: paxsim -scenario scenario.txt) and a summary with
// the replay commands (failure.txt).
func WriteArtifacts(dir string, scn *Scenario, res *Result) error {
	if err := writeTrace(filepath.Join(dir, "trace.txt"), res); err != nil {
		return err
	}
	info := res.Info
	info.AddAnnotations(res.Annotations)
	if err := porcupine.VisualizePath(check.Model(), info, filepath.Join(dir, "history.html")); err != nil {
		return fmt.Errorf("history.html: %w", err)
	}
	b, err := json.MarshalIndent(scn, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "scenario.json"), b, 0o644); err != nil {
		return err
	}
	txt := filepath.Join(dir, "scenario.txt")
	if err := os.WriteFile(txt, []byte(ExportScenario(scn, res)), 0o644); err != nil {
		return err
	}
	summary := fmt.Sprintf("seed %d: %s\nreplay: go run ./cmd/paxsim -seed %d -v (plus the sweep's range flags, if any)\n    or: go run ./cmd/paxsim -scenario %s\ntrace hash %016x, %d events, %d/%d ops\n",
		res.Seed, res.Summary(), res.Seed, txt, res.TraceHash, res.Events, res.Ops, res.OpsTotal)
	return os.WriteFile(filepath.Join(dir, "failure.txt"), []byte(summary), 0o644)
}

func writeTrace(path string, res *Result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for i := range res.Trace {
		fmt.Fprintln(w, res.Trace[i].String())
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
