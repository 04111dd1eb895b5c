package scenarios

import "fmt"

// RunFile runs a scenario file and returns its transcript. Scenario files
// are not implemented yet (issue: scripted scenario files).
func RunFile(path string, rewrite bool) (string, error) {
	return "", fmt.Errorf("%s: scenario files are not supported yet", path)
}
