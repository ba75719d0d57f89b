#!/usr/bin/env python3
"""Regenerate the seeds of the hardware harnesses (README.md here).

corpus-drivers, for fuzz_drivers: byte 0 the case (cases[] in
fuzz_drivers.c), byte 1 the argument, then the instrument's replies
separated by "--8<--\\n". The serial seeds come from the umockdev scripts of
the driver tests (one chunk per command written); the USBTMC and TCP seeds
are good sessions built here (one chunk per reply read).

corpus-lab, for fuzz_lab: the example and test lab files on the harness's
stack.yml, and a few labs that reach the sim section's faults and hidden
errors and every driver's options."""
import os
import re
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "umockdev")
OUT = os.path.join(HERE, "corpus-drivers")
LAB_OUT = os.path.join(HERE, "corpus-lab")
SEP = b"--8<--\n"


def unescape(s):
    return re.sub(r"\^([A-Z@])", lambda m: chr(ord(m.group(1)) - 64), s).encode("latin-1")


def tty_chunks(script):
    """One chunk per 'w' line: the 'r' lines that follow it."""
    chunks = []
    for line in open(os.path.join(DATA, script), encoding="latin-1"):
        line = line.rstrip("\n")
        if line.startswith("w 0 "):
            if line[4:] == "end^M":
                break
            chunks.append(b"")
        elif line.startswith("r 0 ") and chunks:
            chunks[-1] += unescape(line[4:])
    return chunks


def seed(name, case, arg, chunks):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(bytes([case, arg]) + SEP.join(chunks))


def block(payload):
    n = str(len(payload)).encode()
    return b"#" + str(len(n)).encode() + n + payload + b"\n"


os.makedirs(OUT, exist_ok=True)
for f in os.listdir(OUT):
    os.unlink(os.path.join(OUT, f))

for script, case in [("tc200-read", 0), ("tc200-garbled", 0), ("tc200-fault", 0),
                     ("covesion-read", 1), ("covesion-checksum", 1),
                     ("mecom-read", 2), ("mecom-crc", 2), ("mecom-sequence", 2)]:
    seed(script, case, 25, tty_chunks(script + ".script"))

ok = b'+0,"No error"\n'
ted = [b"THORLABS,TED4015,M00412345,1.4.0/2.0.3/1.6.0\n", ok,
       b"40.0\n", b"40.1\n", b"1\n", b"0\n", ok,
       b"45.5\n", b"44.9\n", b"1\n", b"1024\n"]
seed("ted4000-session", 4, 25, ted)

keysight = b"KEYSIGHT TECHNOLOGIES,DSO-X 2002A,MY00000001,02.50\n"
rigol = b"RIGOL TECHNOLOGIES,DS1104Z,DS1ZA000000001,00.04.04\n"
word_pre = (b"+1,+0,+8,+1,+1.00000000E-05,-4.00000000E-05,+0,"
            b"+4.00000000E-03,+1.00000000E-01,+32768\n")
words = struct.pack(">8H", 32768, 33000, 36000, 40000, 36000, 33000, 32768, 32768)
seed("scope-keysight-word", 5, 0,
     [keysight, ok, b"1\n", word_pre, block(words), ok])
byte_pre = (b"+0,+0,+8,+1,+1.00000000E-05,-4.00000000E-05,+0,"
            b"+4.00000000E-03,+1.00000000E-01,+128\n")
seed("scope-keysight-byte", 6, 1,
     [keysight, ok, b"1\n", byte_pre, block(bytes([128, 130, 150, 200, 150, 130, 128, 128])),
      b"1\n", byte_pre, block(bytes([128, 131, 151, 199, 151, 131, 128, 128])), ok])
seed("scope-keysight-average", 7, 2,
     [keysight, ok, ok, b"1\n", word_pre.replace(b"+1,+0,+8,+1,", b"+1,+2,+8,+3,", 1),
      block(words), ok])
rigol_pre = b"0,0,5,1,1.000000e-04,-2.000000e-04,0,2.000000e-02,3,127\n"
seed("scope-rigol-byte", 8, 0,
     [rigol, b'0,"No error"\n', b"WAIT\n", b"STOP\n", rigol_pre,
      block(bytes([130, 140, 180, 140, 130])), b'0,"No error"\n'])
seed("scope-rigol-word", 9, 0,
     [rigol, b'0,"No error"\n', b"STOP\n", b"1" + rigol_pre[1:],
      block(struct.pack("<5H", 130, 140, 180, 140, 130)), b'0,"No error"\n'])

idn = b"A.P.E,pulseCheck NX,S09797,1.2.3\n"
pairs = [(-1.5, 0.1), (-0.5, 0.6), (0.5, 1.0), (1.5, 0.2)]
f32 = b"".join(struct.pack("<ff", d, s) for d, s in pairs)
f64 = b"".join(struct.pack("<dd", d, s) for d, s in pairs)
seed("pulsecheck-nx", 10, 0, [idn, block(f32)])
seed("pulsecheck-nx-two", 10, 1, [idn, block(f32), block(f32)])
seed("pulsecheck-pulselink", 11, 0,
     [b"A.P.E,pulseLink,S01234,2.0\n", block(f64)])
seed("pulsecheck-instrument-averages", 12, 3,
     [b"A.P.E,pulseLink,S01234,2.0\n", block(f64)])
seed("pulsecheck-ascii", 13, 0, [idn, b"-1.5,0.1,-0.5,0.6,0.5,1.0,1.5,0.2\n"])
seed("pulsecheck-big", 14, 0,
     [idn, block(b"".join(struct.pack(">dd", d, s) for d, s in pairs))])
seed("pulsecheck-signal", 15, 0,
     [idn, block(struct.pack("<5f", 0.1, 0.5, 1.0, 0.5, 0.1))])
seed("pulsecheck-signal-query", 16, 0, [idn, b"50\n", b"0.1,0.5,1.0,0.5,0.1\n"])
seed("pulsecheck-errors", 17, 0,
     [idn, b'-350,"Queue overflow"\n', b'0,"No error"\n', block(f32),
      b'0,"No error"\n'])


# ---- lab files ------------------------------------------------------------

os.makedirs(LAB_OUT, exist_ok=True)
for f in os.listdir(LAB_OUT):
    os.unlink(os.path.join(LAB_OUT, f))


def lab_seed(name, text):
    with open(os.path.join(LAB_OUT, name), "w") as f:
        f.write(text)


ROOT = os.path.join(HERE, "..", "..")
for path in ["examples/labs/sim-fan4.yml", "examples/labs/sim-flat-top-5ps.yml",
             "examples/labs/fan4-pulsecheck.yml",
             "examples/labs/fan4-ted4015-scope.yml", "tests/data/labs/good.yml"]:
    text = open(os.path.join(ROOT, path)).read()
    text = re.sub(r"(?m)^stack: .*$", "stack: stack.yml", text)
    lab_seed(os.path.basename(path)[:-4], text)

OVEN = ("  - {{driver: {d}, connection: {c}, channel: {ch}, min_c: 20, "
        "max_c: 120, max_ramp_k_per_min: 5, settle_tolerance_k: 0.05, "
        "settle_time_s: 10{o}}}\n")


def lab(ovens, ac, sim=""):
    return "stack: stack.yml\novens:\n" + "".join(ovens) + ac + sim


sim_ovens = [OVEN.format(d="sim", c="{kind: sim}", ch=i, o="") for i in range(4)]
SIM_AC = ("autocorrelator: {driver: sim, connection: {kind: sim}, averages: 2, "
          "delay_calibration: {scale: -1.5, offset_ps: 0.25}}\n")
lab_seed("sim-faults", lab(sim_ovens, SIM_AC,
    "sim:\n  seed: 7\n  speedup: 0\n  points: 64\n  scan_range_ps: 12\n"
    "  noise: 0.05\n  background: 0.01\n  sensor_noise_k: 0.01\n"
    "  time_constant_s: 5\n  start_c: [30, 40, 50, 60]\n"
    "  phase_offset_rad: [0.1, -0.2, 0.3, 0]\n  azimuth_sigma_deg: 0.5\n"
    "  length_error_um: [1, -1, 2, 0]\n  slope_sigma_rel: 0.02\n"
    "  faults:\n    - {kind: stuck_sensor, at_s: 2, crystal: 0}\n"
    "    - {kind: timeout, at_s: 5, crystal: 1}\n"
    "    - {kind: garbage, at_s: 9, autocorrelator: true}\n"
    "    - {kind: disconnect, at_s: 0, crystal: 3}\n"))
lab_seed("sim-minimal", lab(sim_ovens,
    "autocorrelator: {driver: sim, connection: {kind: sim}}\n",
    "sim: {speedup: 0, points: 16, scan_range_ps: 4}\n"))
mixed = [OVEN.format(d="tc200", c="{kind: tty, port: /dev/ttyUSB0, baud: 115200, "
                                  "timeout_s: 1}", ch=0, o=""),
         OVEN.format(d="covesion", c="{kind: tty, port: /dev/ttyUSB1}", ch=0, o=""),
         OVEN.format(d="mecom", c="{kind: tty, port: /dev/ttyUSB2}", ch=1,
                     o=", options: {address: 3}"),
         OVEN.format(d="ted4000", c="{kind: usb, vendor: 0x1313, product: 0x8048, "
                                    "serial: M1}", ch=0, o="")]
lab_seed("mixed-pulsecheck", lab(mixed,
    "autocorrelator:\n  driver: pulsecheck\n"
    "  connection: {kind: tcp, host: 127.0.0.1, tcp_port: 5025}\n"
    "  options: {firmware: pulselink, layout: signal, scan_range_query: "
    "\"SCAN:RANGE?\", scan_range_unit: ps, error_query: \"SYST:ERR?\", "
    "scan_interval_s: 0.5, line_end: lf}\n"))
lab_seed("mixed-scope", lab(mixed,
    "autocorrelator:\n  driver: scope-ac\n"
    "  connection: {kind: usb, vendor: 0x0957, product: 0x1745}\n"
    "  options: {flavour: keysight, format: byte, channel: 2, averaging: scope, "
    "delay_ps_per_ms: 50}\n"))
