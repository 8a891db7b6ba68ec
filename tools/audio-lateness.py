#!/usr/bin/env python3
"""When did audio packets leave late, and was it near a round of moves?

Reads a loopback packet capture taken during BrowserMoveTests (tcpdump -i lo -s 128 -w FILE udp) and
that test's output with FERRY_MOVE_TRACE=1 (one line per transport move with its wall-clock time).
For every Opus stream (RTP timestamps advancing 960 per packet) it measures each packet's lateness:
how far its arrival lags its RTP timestamp, relative to the least lagging packet of the 2 s before.
A browser's audio stream into the server and the server's copy of it out to the other browser are
both listed, so a delay made by the sender shows on both while one made by the server shows only on
the second. Then it counts the late packets by time since the start of the last round of moves.

usage: audio-lateness.py CAPTURE TEST_OUTPUT [threshold_ms=12]
"""
import collections
import datetime
import re
import struct
import sys


def read_rtp(path):
    """(time, src port, dst port, seq, rtp timestamp, ssrc) of every RTP packet in a pcap of lo."""
    with open(path, 'rb') as f:
        header = f.read(24)
        nanos = struct.unpack('<I', header[:4])[0] == 0xa1b23c4d
        while len(record := f.read(16)) == 16:
            seconds, fraction, captured, _ = struct.unpack('<IIII', record)
            frame = f.read(captured)
            ip = frame[14:]  # lo is an Ethernet link for tcpdump
            if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            udp = ip[(ip[0] & 15) * 4:]
            payload = udp[8:]
            if len(payload) < 12 or payload[0] >> 6 != 2 or 64 <= payload[1] & 0x7f <= 95:
                continue  # not RTP (STUN, DTLS, RTCP)
            src, dst = struct.unpack('>HH', udp[:4])
            seq, timestamp, ssrc = struct.unpack('>HII', payload[2:12])
            yield seconds + fraction / (1e9 if nanos else 1e6), src, dst, seq, timestamp, ssrc


def late_packets(path, threshold):
    streams = collections.defaultdict(list)
    for t, src, dst, seq, ts, ssrc in read_rtp(path):
        streams[(src, dst, ssrc)].append((t, ts))
    for key, packets in streams.items():
        steps = collections.Counter((b[1] - a[1]) & 0xffffffff for a, b in zip(packets, packets[1:200]))
        if len(packets) < 50 or steps.most_common(1)[0][0] != 960:
            continue  # not 20 ms Opus
        t0, ts0 = packets[0]
        lag = [(t - t0) - ((ts - ts0) & 0xffffffff) / 48000 for t, ts in packets]
        window = collections.deque()  # indexes of the packets of the last 2 s, least lag first
        for i, (t, _) in enumerate(packets):
            while window and lag[window[-1]] >= lag[i]:
                window.pop()
            window.append(i)
            while packets[window[0]][0] < t - 2:
                window.popleft()
            late = lag[i] - lag[window[0]]
            if late > threshold:
                yield t, key, late


def main():
    capture, log = sys.argv[1], sys.argv[2]
    threshold = float(sys.argv[3] if len(sys.argv) > 3 else 12) / 1000
    day = None
    moves = []
    for line in open(log):
        if m := re.match(r'\s*(\d\d:\d\d:\d\d\.\d+)-(\d\d:\d\d:\d\d\.\d+) moved (\w+) transport of (\w+) \(local port (\d+)\)', line):
            moves.append(m.groups())
    late = sorted(late_packets(capture, threshold))
    if not late or not moves:
        print(f'{len(late)} late packets, {len(moves)} moves traced')
        return
    day = datetime.datetime.fromtimestamp(late[0][0], datetime.timezone.utc).date()

    def wall(text):
        return datetime.datetime.combine(day, datetime.time.fromisoformat(text), datetime.timezone.utc).timestamp()

    # A round is the moves of one step of the test: each starts as the one before ends (the warm-up's
    # rounds are 250 ms apart, the measured ones 2 s).
    rounds = []
    previous_end = None
    for start, end, *_ in moves:
        if previous_end is None or wall(start) - previous_end > 0.1:
            rounds.append(wall(start))
        previous_end = wall(end)
    server_ports = {int(port) for *_, port in moves}
    arrivals = [(t, lateness) for t, (_, dst, _), lateness in late if dst in server_ports]
    bins = collections.Counter()
    made_by_server = 0
    for t, (src, dst, ssrc), lateness in late:
        if not rounds[0] - 0.5 <= t <= rounds[-1] + 2:
            continue
        direction = 'into the server' if dst in server_ports else 'out of the server'
        # Late going out but not coming in (within 10 ms, by as much less 5 ms): the server delayed it.
        if dst not in server_ports and not any(abs(t - ta) < 0.01 and la > lateness - 0.005 for ta, la in arrivals):
            direction += ', DELAYED BY THE SERVER'
            made_by_server += 1
        since = [r for r in rounds if r <= t]
        after = t - since[-1] if since else None
        clock = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime('%H:%M:%S.%f')[:-3]
        where = f'{after * 1000:.0f} ms after a round started' if after is not None else 'before the first round'
        print(f'{clock} ssrc {ssrc:08x} {direction} (port {src} -> {dst}): {lateness * 1000:.1f} ms late, {where}')
        if dst in server_ports and after is not None:
            bins[min(int(after * 10), 20)] += 1
    print(f'\n{made_by_server} packets delayed by the server.')
    print(f'{len(rounds)} rounds of moves; late packets sent by the browsers, by 100 ms since the start of a round:')
    print('  ' + '  '.join(f'{b * 100}-{b * 100 + 100}: {bins[b]}' for b in range(20)) + f'  later: {bins[20]}')


if __name__ == '__main__':
    main()
