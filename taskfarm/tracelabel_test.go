package taskfarm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTraceNamesTasks: exec's --trace spans name the tasks as {#} and the joblog count them,
// with their command, exit value and host, on every span of an attempt: send, computation
// and write.
func TestTraceNamesTasks(t *testing.T) {
	for _, chunk := range []int{1, 3} {
		t.Run(fmt.Sprint("chunk=", chunk), func(t *testing.T) {
			trace := filepath.Join(t.TempDir(), "trace.json")
			res := runInproc(t, 3, "0\n1\n2\n3\n4\n5\n", "--trace", trace, "--chunk", fmt.Sprint(chunk),
				"--", "exit $(( {} % 2 ))")
			require.Equal(t, 3, res.code, "%s", res.stderr) // three tasks fail: exit 3, as GNU parallel
			data, err := os.ReadFile(trace)
			require.NoError(t, err)
			var events []struct {
				Name, Cat, Ph string
				Args          map[string]any
			}
			require.NoError(t, json.Unmarshal(data, &events))
			seen := map[string]int{}
			for _, e := range events {
				if e.Ph != "X" {
					continue
				}
				seen[e.Cat]++
				task := uint64(e.Args["task"].(float64))
				require.Equal(t, uint64(e.Args["seq"].(float64))*uint64(chunk)+1, task, "%+v", e)
				if chunk == 1 {
					require.True(t, strings.HasSuffix(e.Name, fmt.Sprintf("task %d", task)) ||
						strings.Contains(e.Name, fmt.Sprintf("task %d ", task)), "%q", e.Name)
				} else {
					require.Contains(t, e.Name, fmt.Sprintf("tasks %d-%d", task, task+2))
				}
				if e.Cat == "send" {
					continue
				}
				require.Equal(t, fmt.Sprintf("exit $(( %d %% 2 ))", task-1), e.Args["command"])
				require.Equal(t, float64((task-1)%2), e.Args["exit"], "the first task's exit value")
				require.NotEmpty(t, e.Args["host"])
				require.Equal(t, float64(1), e.Args["try"])
				if chunk == 3 {
					require.Equal(t, float64(3), e.Args["tasks"])
					require.Equal(t, float64(1+task/4), e.Args["failed"], "tasks %d-%d", task, task+2)
				}
			}
			want := 6 / chunk
			require.Equal(t, map[string]int{"send": want, "chunk": want, "write": want}, seen)
		})
	}
}
