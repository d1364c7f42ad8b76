// The tokio_convoy bench's workload in Go, for what Go's own block and mutex
// profiles cost on it: 8 goroutines x 100k lock, increment, unlock of one lock on
// GOMAXPROCS=2, with the profiles off, at the README's production settings (block
// rate 100 us, mutex fraction 5) and at rate 1, measured round-robin and reported
// as medians over the rounds, as ratios over "off".
//
// Two locks: a sync.Mutex, which spins and lets a running goroutine barge in, so
// few of its acquisitions park; and a channel of capacity 1 used as a lock, whose
// every contended acquisition parks and is woken in turn, as tokio's fair Mutex
// hands itself from waiter to waiter (the block profile records each such send).
//
// Run: go run scripts/go_convoy.go [rounds]   (default 11)
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
)

const (
	goroutines = 8
	increments = 100_000
)

// convoy runs the workload with lock/unlock and returns its wall time.
func convoy(lock, unlock func()) time.Duration {
	var count uint64
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < increments; i++ {
				lock()
				count++
				unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if count != goroutines*increments {
		panic("lost increments")
	}
	return elapsed
}

func mutexConvoy() time.Duration {
	var mu sync.Mutex
	return convoy(mu.Lock, mu.Unlock)
}

func channelConvoy() time.Duration {
	ch := make(chan struct{}, 1)
	return convoy(func() { ch <- struct{}{} }, func() { <-ch })
}

type setting struct {
	name              string
	blockRate, mutexF int
}

var settings = []setting{
	{"off", 0, 0},
	{"production settings", 100_000, 5},
	{"both profiles at rate 1", 1, 1},
}

func main() {
	runtime.GOMAXPROCS(2)
	rounds := 11
	if len(os.Args) > 1 {
		if n, err := strconv.Atoi(os.Args[1]); err == nil && n > 0 {
			rounds = n
		}
	}
	fmt.Printf("%s, GOMAXPROCS=2, %d rounds, medians\n\n", runtime.Version(), rounds)
	for _, lock := range []struct {
		name string
		run  func() time.Duration
	}{{"sync.Mutex", mutexConvoy}, {"chan struct{} (capacity 1)", channelConvoy}} {
		times := make([][]time.Duration, len(settings))
		for r := 0; r < rounds; r++ {
			for i, s := range settings {
				runtime.SetBlockProfileRate(s.blockRate)
				runtime.SetMutexProfileFraction(s.mutexF)
				times[i] = append(times[i], lock.run())
			}
		}
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
		fmt.Printf("| %s | time | ratio |\n|---|---|---|\n", lock.name)
		var off float64
		for i, s := range settings {
			sort.Slice(times[i], func(a, b int) bool { return times[i][a] < times[i][b] })
			median := times[i][len(times[i])/2].Seconds() * 1e3
			if i == 0 {
				off = median
			}
			fmt.Printf("| %s | %.1f ms | %.3fx |\n", s.name, median, median/off)
		}
		fmt.Println()
	}
}
