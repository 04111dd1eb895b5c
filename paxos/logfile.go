package paxos

import "fmt"

// Reading a durable log back: a host appends AppendRecord's output to one
// file and, after a crash, reads the whole file with ParseLog. This lives
// beside the record codec because telling a torn tail from damage depends
// on the record format alone, not on any host.

// ParseLog decodes a durable log's bytes into records. A torn tail (the
// last record cut short or garbled by a crash mid-write) is not an error:
// ParseLog returns the records before it and the length of the intact
// prefix, which the host should truncate to. Damage followed by intact
// bytes is corruption in the middle, and an error.
func ParseLog(b []byte) (recs []Record, valid int, err error) {
	for valid < len(b) {
		rec, n, err := DecodeRecord(b[valid:])
		if err != nil {
			// Truncated or garbled, it is a torn tail only if nothing
			// intact follows: a length field damaged to point past the
			// end also reads as truncated, and must not hide the
			// records after it.
			if isTornTail(b[valid:]) {
				return recs, valid, nil
			}
			return recs, valid, fmt.Errorf("paxos: log corrupt at byte %d of %d: %w", valid, len(b), err)
		}
		recs = append(recs, rec)
		valid += n
	}
	return recs, valid, nil
}

// isTornTail reports whether a record that failed to decode reaches the end
// of the log: then it was the write in progress at a crash. A record with
// intact records after it was damaged after it was written.
func isTornTail(b []byte) bool {
	for off := 1; off+1 < len(b); off++ {
		if b[off] != Version || b[off+1] != KindRecord {
			continue // cheap filter: only checksum what could start a record
		}
		if _, _, err := DecodeRecord(b[off:]); err == nil {
			return false // an intact record follows: mid-log damage
		}
	}
	return true
}
