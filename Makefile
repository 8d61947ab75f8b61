# iolab: `make lab1` … `make lab4` grade a lab's solution, `make test` runs the whole suite.
# BUILD picks the cargo profile's output directory (debug by default).

CARGO ?= cargo
IOLAB := target/debug/iolab
LABS := 1 2 3 4 5 6 7
LAB ?= 1

.PHONY: build test review grade trace compare $(addprefix lab,$(LABS))

build:
	$(CARGO) build --bins

# make lab1 ...: build, then grade that lab's solution (exit 0 only on full score).
$(addprefix lab,$(LABS)): lab%: build
	$(IOLAB) grade lab$*

# make grade: every lab, one after another.
grade: build
	@status=0; for n in $(LABS); do $(IOLAB) grade lab$$n || status=1; done; exit $$status

# make trace LAB=1: the normalized transcript of the lab's standard scenario.
trace: build
	$(IOLAB) transcript lab$(LAB)

test:
	$(CARGO) test

# make review: accept or reject changed snapshots (installs cargo-insta once).
review:
	@command -v cargo-insta >/dev/null || $(CARGO) install cargo-insta --locked
	$(CARGO) insta review

# make compare: lab 4's level- and edge-triggered transcripts side by side.
compare: build
	$(IOLAB) transcript lab4 --scenario level --beside edge
