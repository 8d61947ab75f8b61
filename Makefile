# iolab: `make lab1`, `make lab2`, … grade a lab's solution (one target per
# labs/labN/ folder), `make test` runs the whole suite.
# BACKEND=strace runs everything under the system's strace instead of iolab's
# own ptrace tracer (BACKEND=native, the default).

CARGO ?= cargo
IOLAB := target/debug/iolab
# Every lab is a folder: labs/lab1, labs/lab2, ...
LABS := $(shell for d in labs/lab*/rubric.rs; do d=$${d%/rubric.rs}; echo $${d#labs/lab}; done | sort -n)
LAB ?= 1
BACKEND ?= native

.PHONY: build test review grade explain starter trace compare backends stress bench $(addprefix lab,$(LABS))

# The harness and every lab's solution and variants (each lab is a package).
build:
	$(CARGO) build --workspace --bins

# make lab1 ...: build, then grade that lab's solution (exit 0 only on full score):
# labs/labN/server.rs, or the command line in labs/labN/solution (run there).
$(addprefix lab,$(LABS)): lab%: build
	$(IOLAB) grade lab$* --backend $(BACKEND)

# make grade: every lab's solution, then one summary table (each lab's
# traces under target/iolab/<lab>/<scenario>/).
grade: build
	$(IOLAB) grade all --backend $(BACKEND)

# make explain CMD='python3 server.py': name any TCP server's I/O model.
explain: build
	$(IOLAB) explain --backend $(BACKEND) -- $(CMD)

# make starter DEST=dir: a student tree, with every lab's solution regions
# replaced by todo!() and the handout's instructions.
starter: build
	@test -n "$(DEST)" || { echo "usage: make starter DEST=dir"; exit 2; }
	$(IOLAB) starter --from . --dest $(DEST)

# make trace LAB=1: the normalized transcript of the lab's standard scenario.
trace: build
	$(IOLAB) transcript lab$(LAB) --backend $(BACKEND)

# make test: install what the tests need when missing (strace, python3, a
# JDK: .ci/install-test-deps), then the whole suite.
test:
	.ci/install-test-deps
	IOLAB_BACKEND=$(BACKEND) $(CARGO) test

# make review: accept or reject changed snapshots (installs cargo-insta once).
review:
	@command -v cargo-insta >/dev/null || $(CARGO) install cargo-insta --locked
	$(CARGO) insta review

# make compare: lab 4's level- and edge-triggered transcripts side by side.
compare: build
	$(IOLAB) transcript lab4 --scenario level --beside edge --backend $(BACKEND)

# make backends: grade every lab under both backends, one after the other in
# one run, and print each one's wall time and score side by side.
backends: build
	@printf '%-5s %10s %10s %7s  %s\n' lab native strace ratio scores
	@for n in $(LABS); do \
	  t0=$$(date +%s%N); a=$$($(IOLAB) grade lab$$n --backend native | tail -n 1); \
	  t1=$$(date +%s%N); b=$$($(IOLAB) grade lab$$n --backend strace | tail -n 1); \
	  t2=$$(date +%s%N); \
	  awk -v n=lab$$n -v x=$$((t1-t0)) -v y=$$((t2-t1)) -v a="$$a" -v b="$$b" \
	    'BEGIN { printf "%-5s %9.2fs %9.2fs %6.2fx  %s | %s\n", n, x/1e9, y/1e9, y/x, a, b }'; \
	done

# make stress: the whole suite N times (default 20) on an idle machine, then
# N times with a CPU hog on every core; prints "N/N identical" for scores and
# snapshots per round (records under target/stress/). Takes about 2.5
# minutes per run; STRESS_ROUNDS=hogs (or idle) runs one round only.
N ?= 20
stress:
	STRESS_BACKEND=$(BACKEND) harness/stress.sh $(N)

# make bench: what tracing costs, iolab against strace, in one run (needs
# strace; about 20 minutes, most of it strace's; BENCH_N=100000 shortens it). The figures
# behind BENCHMARKS.md. Run it on an otherwise idle machine.
bench:
	$(CARGO) bench --bench trace
