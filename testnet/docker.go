package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/entente/entente/crypto/jws"
	"github.com/entente/entente/node"
	"github.com/entente/entente/node/client"
	"github.com/entente/entente/policy"
)

// The Docker variant of the test network runs FRA, DEU and GBR as containers built FROM
// scratch from the static binary (testnet/Dockerfile), started with testnet/compose.yaml
// on one bridge network, and cuts a node off with `docker network disconnect`. The engine
// may have no registry: nothing is pulled, the image is built here and removed afterwards.
//
// The host reaches every node at its address on the bridge network rather than through
// published ports: it is the address the node's member card names and the other nodes
// use, nothing has to be allocated on the host's loopback (where other tests run), and on
// Linux the host routes to every bridge network it has. A cut node's API is unreachable
// from the host too, since its only interface is gone; its admin socket is a file in its
// data directory, which is bind-mounted, so the harness still reads it through that (see
// Node.AdminClient).

// dockerUID is the numeric user and group the image runs as (its Dockerfile's USER).
const dockerUID = 65532

// containerData is where a node's data directory is mounted inside its container.
const containerData = "/data"

// dockerServices are the compose file's services, one per state of States, in order.
var dockerServices = []string{"fra", "deu", "gbr"}

// TestingT is the part of testing.TB the Docker test network needs: DockerUp registers
// its teardown with Cleanup, so the containers, the network and the image go even when
// the test fails, and shows the containers' logs when it has. testnet takes this instead
// of importing testing because the entente command links it.
type TestingT interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Cleanup(func())
	Failed() bool
}

// DockerOptions configure a Docker test network.
type DockerOptions struct {
	// Dir receives the nodes' data directories (mounted into the containers), the genesis
	// and testnet.json; a test passes t.TempDir().
	Dir string
	// Policy is the federation policy; nil means DemoPolicy.
	Policy *policy.Policy
	// Heartbeat is raft's heartbeat; 0 means 300ms.
	Heartbeat time.Duration
	// Progress, when set, is told what is happening.
	Progress func(string)
}

// DockerNet is a running Docker test network. Its Net drives the nodes through their APIs
// like a local network's; Disconnect and Connect cut and restore a node's link. The
// nodes' Start, Stop, Kill and Restart act on local processes and do not apply here: a
// container's life is compose's.
type DockerNet struct {
	*Net
	// Project is the compose project, Image the image's tag and Network the bridge
	// network's name; all are unique to this network, so that runs side by side do not
	// meet and everything left behind can be told apart.
	Project, Image, Network string

	compose     []string // docker-compose, or docker compose
	composeFile string
	env         []string // the compose file's variables
	ips         []string // each node's address on the network
	containers  []string // each node's container id
	buildDir    string
	imageBuilt  bool
	composeUp   bool
	up          atomic.Bool // the containers run: what Node.Running answers
	say         func(string, ...any)

	downOnce sync.Once
	downErr  error
}

// DockerAvailable says why the Docker test network cannot run here, or nil when it can:
// it needs Linux (the host routes to bridge networks only there), a Docker engine that
// answers, and docker compose or docker-compose. Tests skip with its answer.
func DockerAvailable(ctx context.Context) error {
	if runtime.GOOS != "linux" {
		return fmt.Errorf("the Docker test network needs Linux, where the host can reach containers on a bridge network (this is %s)", runtime.GOOS)
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return fmt.Errorf("no docker command: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := docker(ctx, "info", "--format", "{{.ServerVersion}}"); err != nil {
		return fmt.Errorf("no Docker engine answers: %w", err)
	}
	_, err := composeCommand(ctx)
	return err
}

// composeCommand finds Compose: the docker CLI plugin, else the standalone docker-compose.
func composeCommand(ctx context.Context) ([]string, error) {
	if _, err := docker(ctx, "compose", "version"); err == nil {
		return []string{"docker", "compose"}, nil
	}
	if p, err := exec.LookPath("docker-compose"); err == nil {
		return []string{p}, nil
	}
	return nil, errors.New("neither docker compose nor docker-compose is installed")
}

// DockerUp builds the static binary and the image, prepares three nodes' data
// directories the way Up does (identities, member cards, genesis, gossip key, tokens),
// starts them with testnet/compose.yaml, and waits until they answer /readyz, agree on a
// leader and have published their key epochs. Whatever it created is torn down by
// t.Cleanup, also when it fails part way.
func DockerUp(ctx context.Context, t TestingT, o DockerOptions) (*DockerNet, error) {
	t.Helper()
	if o.Dir == "" {
		return nil, errors.New("testnet: DockerOptions.Dir is required")
	}
	d := &DockerNet{say: func(format string, args ...any) {
		if o.Progress != nil {
			o.Progress(fmt.Sprintf(format, args...))
		}
	}}
	t.Cleanup(func() {
		if t.Failed() {
			for i := range d.containers {
				t.Logf("---- %s (container %s) ----\n%s", States[i], d.containers[i], d.Logs(i, 60))
			}
		}
		if err := d.Down(); err != nil {
			t.Errorf("testnet: tearing down the Docker test network: %v", err)
		}
	})
	var err error
	if d.compose, err = composeCommand(ctx); err != nil {
		return nil, err
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	d.composeFile = filepath.Join(root, "testnet", "compose.yaml")
	id := fmt.Sprintf("%d-%08x", os.Getpid(), rand.Uint32())
	d.Project, d.Image, d.Network = "entente-"+id, "entente-testnet:"+id, "entente-"+id+"-federation"

	if d.buildDir, err = os.MkdirTemp("", "entente-docker-"); err != nil {
		return nil, err
	}
	bin := filepath.Join(d.buildDir, "entente")
	d.say("building the static binary")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/entente")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("testnet: build the static binary: %v\n%s", err, out)
	}
	d.say("building the image %s", d.Image)
	d.imageBuilt = true // a failed build may still have tagged it; removing a missing tag is harmless
	if _, err := docker(ctx, "build", "--label", "org.entente.testnet="+d.Project,
		"-f", filepath.Join(root, "testnet", "Dockerfile"), "-t", d.Image, d.buildDir); err != nil {
		return nil, fmt.Errorf("testnet: build the image: %w", err)
	}

	subnet, err := pickSubnet(ctx)
	if err != nil {
		return nil, err
	}
	base := subnet.Addr().As4()
	opts := Options{Bin: bin, Dir: o.Dir, Nodes: len(dockerServices), Policy: o.Policy, Heartbeat: o.Heartbeat, Progress: o.Progress}
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	tn, addrs, err := create(opts, func(i int) (nodeAddrs, error) {
		ip := netip.AddrFrom4([4]byte{base[0], base[1], base[2], byte(11 + i)}).String()
		d.ips = append(d.ips, ip)
		return nodeAddrs{API: ip + ":8443", Raft: ip + ":7443", Gossip: ip + ":7946"}, nil
	})
	if err != nil {
		return nil, err
	}
	d.Net = tn
	// The keys stay 0600, so the container's user must own them. Root hands each data
	// directory to the image's own unprivileged user; anyone else runs the containers as
	// themselves, which needs no privilege and leaves the files theirs to remove.
	user, chown := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid()), os.Geteuid() == 0
	if chown {
		user = fmt.Sprintf("%d:%d", dockerUID, dockerUID)
	}
	for i, n := range tn.Nodes {
		n.running = d.up.Load
		if err := writeContainerConfig(n, tn.Genesis, addrs[i], opts.Heartbeat); err != nil {
			return nil, err
		}
		if chown {
			if err := chownTree(n.DataDir, dockerUID, dockerUID); err != nil {
				return nil, err
			}
		}
	}
	d.env = append(os.Environ(), "TESTNET_IMAGE="+d.Image, "TESTNET_USER="+user, "TESTNET_NETWORK="+d.Network, "TESTNET_SUBNET="+subnet.String())
	for i, n := range tn.Nodes {
		s := strings.ToUpper(dockerServices[i])
		d.env = append(d.env, "TESTNET_"+s+"_DATA="+n.DataDir, "TESTNET_"+s+"_IP="+d.ips[i])
	}

	d.say("starting %s on %s (network %s)", strings.Join(dockerServices, ", "), subnet, d.Network)
	d.composeUp = true
	if _, err := d.runCompose(ctx, "up", "-d", "--no-build"); err != nil {
		return nil, err
	}
	d.up.Store(true)
	for i, svc := range dockerServices {
		out, err := d.runCompose(ctx, "ps", "-q", svc)
		if err != nil {
			return nil, err
		}
		if id := strings.TrimSpace(out); id != "" {
			d.containers = append(d.containers, id)
			continue
		}
		return nil, fmt.Errorf("testnet: compose started no container for %s", States[i])
	}
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	for i := range tn.Nodes {
		if err := d.waitReady(rctx, i); err != nil {
			return nil, err
		}
	}
	d.say("%d containers answer /readyz; issuing tokens", len(tn.Nodes))
	if err := tn.issueTokens(); err != nil {
		return nil, err
	}
	if _, err := tn.WaitLeader(ctx); err != nil {
		return nil, err
	}
	if err := tn.WaitKeyEpochs(ctx); err != nil {
		return nil, err
	}
	if err := tn.WriteManifest(); err != nil {
		return nil, err
	}
	return d, nil
}

// writeContainerConfig gives node n what it needs to serve inside its container: the
// genesis in its data directory, and the settings Up passes as flags, appended to the
// config.yaml `entente init` wrote, with paths as the container sees them.
func writeContainerConfig(n *Node, genesis string, a nodeAddrs, heartbeat time.Duration) error {
	g, err := os.ReadFile(genesis)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(n.DataDir, "genesis.json"), g, 0o644); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(n.DataDir, "config.yaml"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "\n# The Docker test network (testnet.DockerUp): paths are inside the container.\n"+
		"genesis: %s/genesis.json\nraft_addr: %s\ngossip_addr: %s\nraft_heartbeat: %s\nlog_level: debug\nrate_limit: 0\n",
		containerData, a.Raft, a.Gossip, heartbeat)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// waitReady waits until node i answers /readyz, and fails at once if its container stops.
func (d *DockerNet) waitReady(ctx context.Context, i int) error {
	c, err := d.Nodes[i].Client("")
	if err != nil {
		return err
	}
	defer c.CloseIdle()
	lastCheck := time.Now()
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.Do(rctx, "GET", "/readyz", nil, nil)
		cancel()
		if err == nil {
			return nil
		}
		if time.Since(lastCheck) > 2*time.Second {
			lastCheck = time.Now()
			if st, ierr := docker(ctx, "inspect", "-f", "{{.State.Status}}", d.containers[i]); ierr == nil && strings.TrimSpace(st) != "running" {
				return fmt.Errorf("testnet: %s's container is %s, not running\n%s", States[i], strings.TrimSpace(st), d.Logs(i, 40))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testnet: %s not ready: %v (last error %v)\n%s", States[i], ctx.Err(), err, d.Logs(i, 40))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Disconnect cuts node i off: `docker network disconnect` takes its only interface away,
// so it reaches no other node and none reaches it. Net.WaitLeader and WaitKeyEpochs wait
// for every running node, the cut one included, so they wait in vain until Connect.
func (d *DockerNet) Disconnect(i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := docker(ctx, "network", "disconnect", d.Network, d.containers[i])
	return err
}

// Connect restores node i's link at the address it had, which its member card names and
// its listeners are still bound to, and with its service name as an alias, as compose
// gave it.
func (d *DockerNet) Connect(i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := docker(ctx, "network", "connect", "--ip", d.ips[i], "--alias", dockerServices[i], d.Network, d.containers[i])
	return err
}

// Container is node i's container id.
func (d *DockerNet) Container(i int) string { return d.containers[i] }

// Logs returns the last lines of node i's container output.
func (d *DockerNet) Logs(i, lines int) string {
	if i >= len(d.containers) {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "logs", "--tail", strconv.Itoa(lines), d.containers[i]).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(docker logs: %v)\n%s", err, out)
	}
	return string(out)
}

// Down removes the containers, the network and the image (compose down -v, then docker
// rmi), and checks that nothing of the project is left. It is safe to call more than
// once; DockerUp's cleanup calls it.
func (d *DockerNet) Down() error {
	d.downOnce.Do(func() { d.downErr = d.down() })
	return d.downErr
}

func (d *DockerNet) down() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var errs []error
	d.up.Store(false)
	if d.composeUp {
		// Five seconds to stop, then SIGKILL: the data are thrown away, and the last node
		// to stop can spend the raft transport's whole dial timeout (10s) on peers whose
		// addresses went with their containers.
		d.say("removing the containers and the network")
		if _, err := d.runCompose(ctx, "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
			errs = append(errs, err)
		}
		// Whatever compose did not remove goes by label and by name.
		out, err := docker(ctx, "ps", "-aq", "--filter", "label=com.docker.compose.project="+d.Project)
		if ids := strings.Fields(out); err == nil && len(ids) > 0 {
			_, rmErr := docker(ctx, append([]string{"rm", "-f", "-v"}, ids...)...)
			errs = append(errs, fmt.Errorf("testnet: compose down left containers %v (removed: %v)", ids, rmErr))
		}
		if _, err := docker(ctx, "network", "inspect", d.Network); err == nil {
			_, rmErr := docker(ctx, "network", "rm", d.Network)
			errs = append(errs, fmt.Errorf("testnet: compose down left the network %s (removed: %v)", d.Network, rmErr))
		}
	}
	if d.imageBuilt {
		d.say("removing the image %s", d.Image)
		if _, err := docker(ctx, "image", "inspect", d.Image); err == nil {
			if _, err := docker(ctx, "rmi", "-f", d.Image); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if d.buildDir != "" {
		errs = append(errs, os.RemoveAll(d.buildDir))
	}
	if d.Net != nil {
		_ = os.Remove(filepath.Join(d.Dir, ManifestFile))
	}
	return errors.Join(errs...)
}

// runCompose runs compose on this network's project and file with its variables.
func (d *DockerNet) runCompose(ctx context.Context, args ...string) (string, error) {
	full := append(append(append([]string{}, d.compose[1:]...), "-p", d.Project, "-f", d.composeFile), args...)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, d.compose[0], full...)
	cmd.Env, cmd.Stdout, cmd.Stderr = d.env, &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %w\n%s", d.compose[0], strings.Join(full, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// AdminClient returns a client on the node's admin socket, acting as the node's operator.
// The socket is a file in the data directory, so it reaches a node in a container even
// while the container's network is cut.
func (n *Node) AdminClient() (*client.Client, error) {
	ks, err := n.KeySet()
	if err != nil {
		return nil, err
	}
	return client.New("http://admin", client.Options{UnixSocket: filepath.Join(n.DataDir, node.AdminSocket), Keys: ks,
		Timeout: 10 * time.Second, RefreshKeys: func() (*jws.KeySet, error) { return n.KeySet() }})
}

// docker runs the docker command and returns its standard output; a failure carries
// standard error.
func docker(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// pickSubnet chooses a /24 for the network at random in 10.213.0.0/16, away from the
// pools the engine allocates from by default (172.17.0.0/12, 192.168.0.0/16), and
// overlapping no network the engine has and no address of this host. The subnet is chosen
// here, not by the engine, because the member cards name the nodes' addresses before any
// container exists.
func pickSubnet(ctx context.Context) (netip.Prefix, error) {
	var used []netip.Prefix
	ids, err := docker(ctx, "network", "ls", "-q")
	if err != nil {
		return netip.Prefix{}, err
	}
	if f := strings.Fields(ids); len(f) > 0 {
		out, err := docker(ctx, append([]string{"network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, f...)...)
		if err != nil {
			return netip.Prefix{}, err
		}
		for _, s := range strings.Fields(out) {
			if p, err := netip.ParsePrefix(s); err == nil {
				used = append(used, p)
			}
		}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Prefix{}, err
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			used = append(used, p.Masked())
		}
	}
	for range 100 {
		cand := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(1 + rand.IntN(254)), 0}), 24)
		free := true
		for _, p := range used {
			if p.Overlaps(cand) {
				free = false
				break
			}
		}
		if free {
			return cand, nil
		}
	}
	return netip.Prefix{}, errors.New("testnet: no free /24 in 10.213.0.0/16 for the Docker network")
}

// chownTree hands dir and everything in it to uid:gid, keeping every mode.
func chownTree(dir string, uid, gid int) error {
	return filepath.WalkDir(dir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

// moduleRoot is the directory of the module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("testnet: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("testnet: not inside the entente module")
	}
	return filepath.Dir(gomod), nil
}
