module paxlock

go 1.26.0

require (
	github.com/anishathalye/porcupine v1.3.1
	github.com/cockroachdb/datadriven v1.0.3
	github.com/pmezard/go-difflib v1.0.0
	golang.org/x/net v0.62.0
	gopkg.in/yaml.v3 v3.0.1
	pgregory.net/rapid v1.3.0
)

require golang.org/x/sys v0.49.0 // indirect
