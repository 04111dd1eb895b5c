package udphost

import "syscall"

// testProcAttr has the kernel kill a test's paxosd if the test dies.
func testProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
