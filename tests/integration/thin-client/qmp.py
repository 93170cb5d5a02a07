"""qmp.py SOCKET COMMAND-JSON: one QMP command, prints the answer line."""
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile('rw')
f.readline()
f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n"); f.flush(); f.readline()
f.write(sys.argv[2] + "\n"); f.flush()
while True:
    line = f.readline()
    if not line:
        sys.exit(1)
    if '"return"' in line or '"error"' in line:
        print(line.strip())
        sys.exit(0 if '"return"' in line else 1)
