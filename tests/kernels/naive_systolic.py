"""Slow, obvious reference for accelsim.model.scalesim: SCALE-Sim v3.0.0 done per address.

It builds the full operand matrices, the per-fold demand matrices (every row, every column)
and the prefetch matrices, then services one demand row at a time through three Python
buffers (CALC estimate-bandwidth read buffer, USER hashed-set read buffer, OFMAP write
buffer), exactly as docs/notes/scalesim-model.md §2, §4 and §5 describe.  Utilisations are
per-fold means, SRAM counts are counted entries: no closed forms.  Use tiny shapes only.
"""
from __future__ import annotations

import math

import numpy as np

PAD, OOR = -1, -2          # fold padding; out-of-range ifmap element (no padding in SCALE-Sim)


def operand_matrices(H, W, R, S, C, F, s):
    Eh = math.ceil((H - R + s) / s)
    Ew = math.ceil((W - S + s) / s)
    M, K, N = Eh * Ew, R * S * C, F
    ifmap = np.empty((M, K), dtype=np.int64)
    for m in range(M):
        orow, ocol = divmod(m, Ew)
        for k in range(K):
            r, rem = divmod(k, S * C)
            c, ch = divmod(rem, C)
            y, x = orow * s + r, ocol * s + c
            ifmap[m, k] = (y * W + x) * C + ch if (y < H and x < W) else OOR
    filt = np.array([[n * K + k for n in range(N)] for k in range(K)], dtype=np.int64)
    return ifmap, filt.reshape(K, N), M, N, K


def skew(m):
    rows, cols = m.shape
    out = np.full((rows + cols - 1, cols), PAD, dtype=np.int64)
    for c in range(cols):
        out[c:c + rows, c] = m[:, c]
    return out


def pad(m, rows, cols):
    out = np.full((rows, cols), PAD, dtype=np.int64)
    out[:m.shape[0], :m.shape[1]] = m
    return out


def nulls(rows, cols):
    return np.full((rows, cols), PAD, dtype=np.int64)


def rollout(m):
    Mr, Nc = m.shape
    return [int(m[r, d - r]) for d in range(Mr + Nc - 1)
            for r in range(min(d, Mr - 1), max(0, d - Nc + 1) - 1, -1)]


def build(df, ifmap, filt, M, N, K, R, C):
    """Demand matrices (rows = stall-free cycles), prefetch streams, per-fold stats."""
    ofmap = np.arange(M * N, dtype=np.int64).reshape(M, N)
    idm, fdm, odm, fold_util = [], [], [], []
    counts = dict(ifmap=0, filter=0, ofmap=0)
    if df == "os":
        Sr, Sc, T = M, N, K
    elif df == "ws":
        Sr, Sc, T = K, N, M
    else:
        Sr, Sc, T = K, M, N
    rf, cf = math.ceil(Sr / R), math.ceil(Sc / C)
    for fc in range(cf):
        for fr in range(rf):
            if df == "os":
                a = ifmap.T[:, fr * R:(fr + 1) * R]
                b = filt[:, fc * C:(fc + 1) * C]
                o = ofmap[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C]
                counts["ifmap"] += a.size
                counts["filter"] += b.size
                counts["ofmap"] += o.size + R + C            # SCALE-Sim's counter quirk
                idm.append(skew(np.vstack([pad(a, T, R), nulls(C - 1, R)])))
                fdm.append(skew(np.vstack([pad(b, T, C), nulls(R - 1, C)])))
                odm.append(skew(np.vstack([nulls(T - 1, C), pad(o, R, C)[::-1]])))
                used = o.shape[0] * o.shape[1]
                cyc = T + R + C - 2
            elif df == "ws":
                a = ifmap[:, fr * R:(fr + 1) * R]
                b = filt[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C]
                o = ofmap[:, fc * C:(fc + 1) * C]
                counts["ifmap"] += a.size
                counts["filter"] += b.size
                counts["ofmap"] += o.size
                idm.append(skew(np.vstack([nulls(R, R), pad(a, T, R), nulls(C - 1, R)])))
                fdm.append(np.vstack([pad(b, R, C)[::-1], nulls(R + C + T - 2, C)]))
                odm.append(skew(np.vstack([nulls(2 * R - 1, C), pad(o, T, C)])))
                used = b.shape[0] * b.shape[1]
                cyc = (2 * R + C + T - 2) + C - 1            # SCALE-Sim: demand rows + cols − 1
            else:
                a = ifmap.T[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C]
                b = filt[fr * R:(fr + 1) * R, :].T
                o = ofmap[fc * C:(fc + 1) * C, :].T
                counts["ifmap"] += a.size
                counts["filter"] += b.size
                counts["ofmap"] += o.size
                idm.append(np.vstack([pad(a, R, C)[::-1], nulls(R + C + T - 2, C)]))
                fdm.append(skew(np.vstack([nulls(R, R), pad(b, T, R), nulls(C - 1, R)])))
                odm.append(skew(np.vstack([nulls(2 * R - 1, C), pad(o, T, C)])))
                used = a.shape[0] * a.shape[1]
                cyc = (2 * R + C + T - 2) + C - 1
            fold_util.append((used / (R * C), used / (R * C) * T / cyc))
    if df == "os":
        ipf = rollout(np.vstack([pad(ifmap.T[:, i * R:(i + 1) * R], T, R) for i in range(rf)]))
        fpf = rollout(np.vstack([pad(filt[:, i * C:(i + 1) * C], T, C) for i in range(cf)]))
    elif df == "ws":
        ipf = rollout(np.vstack([pad(ifmap[:, i * R:(i + 1) * R], T, R) for i in range(rf)]))
        fpf = np.vstack([pad(filt[:, i * C:(i + 1) * C], K, C) for i in range(cf)]).ravel().tolist()
    else:
        ipf = np.vstack([pad(ifmap.T[:, i * C:(i + 1) * C], K, C) for i in range(cf)]).ravel().tolist()
        fpf = rollout(np.vstack([pad(filt[i * R:(i + 1) * R, :].T, T, R) for i in range(rf)]))
    return (np.vstack(idm), np.vstack(fdm), np.vstack(odm), ipf, fpf, fold_util, counts,
            rf * cf)


class CalcReadBuffer:
    def __init__(self, size):
        self.S = size // 100
        self.cur, self.cur_id, self.sets = set(), 0, []
        self.rs, self.re = 0, 49
        self.done_first = False
        self.pf_start = self.pf_end = -1
        self.lp_start, self.lp_end = -2, -1
        self.first_cycle, self.first_seen = 0, False
        self.num_access, self.t_first, self.t_last = 0, None, None

    def _prefetch(self, lo, hi):
        self.num_access += sum(len(self.sets[i]) for i in range(lo, hi + 1))
        if self.t_first is None:
            self.t_first = self.lp_start + 1
        self.t_last = self.lp_end + 1

    def row(self, cycle, addrs):
        if not self.first_seen and addrs:
            self.first_cycle, self.first_seen = cycle, True
        for a in addrs:
            lo, hi = self.rs, min(self.cur_id, self.re + 1)
            if any(a in self.sets[i] for i in range(lo, hi)) or a in self.cur:
                continue
            self.cur.add(a)
            if len(self.cur) == self.S:
                self.sets.append(self.cur)
                self.cur = set()
                self.cur_id += 1
                if self.cur_id == self.re + 1:
                    if not self.done_first:
                        self.lp_end = self.first_cycle - 2
                        self.lp_start = self.lp_end - math.ceil(50 * self.S / 10) + 1
                        self._prefetch(0, 49)
                        self.pf_start, self.pf_end = self.re + 1, self.re + 50
                        self.done_first = True
                    else:
                        self._prefetch(self.pf_start, self.pf_end)
                        self.pf_start += 50
                        self.pf_end += 50
                    self.rs += 50
                    self.re += 50
                    self.lp_start, self.lp_end = self.lp_end + 1, cycle
        return cycle + 1

    def finish(self):
        if self.cur:
            self.sets.append(self.cur)
        else:
            self.cur_id -= 1
        if not self.done_first:
            self.lp_end = -2
            self.lp_start = self.lp_end - math.ceil((self.cur_id + 1) * self.S / 10) + 1
            self._prefetch(0, self.cur_id)
        else:
            self._prefetch(self.pf_start, self.cur_id)
        return self.t_first, self.t_last


class UserReadBuffer:
    def __init__(self, size, bw, stream):
        self.A = math.ceil(size / 2)
        self.P = size - self.A
        self.bw = bw
        self.fetch_rows = math.ceil(len(stream) / bw)
        eps = math.ceil(size / 100)
        sets, cur, ctr = [], set(), 0
        for e in stream:
            if e >= 0:
                cur.add(e)
                ctr += 1
            if ctr >= eps:
                sets.append(cur)
                cur, ctr = set(), 0
        sets.append(cur)
        self.sets, self.nl = sets, len(sets)
        self.nal = min(math.ceil(self.A / eps), self.nl)
        self.npl = min(math.ceil(self.P / eps), self.nl - self.nal)
        self.started = False
        self.num_access = 0

    def _hit(self, a):
        s, e = self.lim
        ids = range(s, e) if s < e else list(range(s, self.nl)) + list(range(e))
        return any(a in self.sets[i] for i in ids)

    def row(self, cycle, addrs):
        if not self.started:
            n = min(math.ceil(self.A / self.bw), self.fetch_rows)
            self.num_access += n * self.bw
            self.t_first, self.last = cycle - n, cycle - 1
            self.t_last = self.last
            self.lim = (0, self.nal)
            self.started = True
        off = 1
        for a in addrs:
            while not self._hit(a):
                if self.npl == 0:
                    raise RuntimeError("USER read buffer cannot advance")
                s = (self.lim[0] + self.npl) % self.nl
                self.lim = (s, (s + self.nal) % self.nl)
                n = math.ceil(self.P / self.bw)
                self.num_access += n * self.bw
                self.last += n + 1
                self.t_last = self.last
                p = self.last - (cycle + off)
                off += p
                if p > 0:
                    off += p
        return cycle + off

    def finish(self):
        return self.t_first, self.t_last


class WriteBuffer:
    def __init__(self, size, bw):
        self.total = size
        self.active = math.ceil(size / 2)
        self.drain = size - self.active
        self.bw = bw
        self.free = size
        self.lines, self.line_idx, self.dstart, self.drain_end = [], 0, 0, 0
        self.num_access, self.cycles = 0, []

    def _drain(self, start):
        end = min(self.dstart + math.ceil(self.drain / self.bw), len(self.lines))
        n = end - self.dstart
        data = n * self.bw - (self.bw - self.lines[end - 1])
        self.num_access += data
        self.cycles += [start, start + n - 1]
        self.free += data
        self.dstart = end
        return start + n - 1

    def row(self, cycle, nvalid):
        cur = cycle
        for _ in range(nvalid):
            self.line_idx += 1
            self.free -= 1
            if self.line_idx == self.bw:
                self.lines.append(self.bw)
                self.line_idx = 0
            if cur < self.drain_end:
                if self.free <= 0:
                    cur = self.drain_end
            elif self.free < self.active:
                if self.line_idx:
                    self.lines.append(self.line_idx)
                    self.line_idx = 0
                self.drain_end = self._drain(cur)
        return cur

    def finish(self, cycle):
        if self.line_idx:
            self.lines.append(self.line_idx)
            self.line_idx = 0
        while self.dstart < len(self.lines):
            self.drain_end = self._drain(cycle)
            cycle = self.drain_end + 1
        return min(self.cycles), max(self.cycles)


# ---- SCALE-Sim's sparsity (SparsitySupport = true), done on the explicit matrices -------------

def nm_pattern(K, n, m):
    """Layer-wise N:M: 1…1 0…0 (n ones, m − n zeros) tiled over the K reduction rows."""
    return np.tile(np.r_[np.ones(n, dtype=np.int64), np.zeros(m - n, dtype=np.int64)], -(-K // m))[:K]


def rowwise_pattern(K, N, bs, seed):
    """Row-wise: filter n keeps the first N_n of every bs rows, N_n drawn in filter order from
    numpy's legacy generator seeded with `seed` (as SCALE-Sim's np.random.seed + randint)."""
    rng = np.random.RandomState(seed)
    cols = []
    for _ in range(N):
        nk = rng.randint(1, bs // 2 + 1)
        cols.append(nm_pattern(K, nk, bs))
    return np.column_stack(cols)


def rowwise_filter(filt, mask, bs):
    """SCALE-Sim's condensing loop: pad to 2·bs rows, keep ≤ bs/2 non-zeros per block of bs,
    empty slots −1.  Addresses are shifted by one so that 0 means pruned, then shifted back."""
    a = (filt + 1) * mask
    rem = a.shape[0] % (2 * bs)
    if rem:
        a = np.vstack([a, np.zeros((2 * bs - rem, a.shape[1]), dtype=np.int64)])
    out = np.zeros((a.shape[0] // 2, a.shape[1]), dtype=np.int64)
    for col in range(a.shape[1]):
        vals = []
        for start in range(0, a.shape[0], 2 * bs):
            for blk in (a[start:start + bs, col], a[start + bs:start + 2 * bs, col]):
                nz = blk[blk != 0][:bs // 2]
                vals += list(nz) + [0] * (bs // 2 - len(nz))
        out[:len(vals), col] = vals
    return out - 1                                      # pruned (0) becomes −1


def skew_row_sparsity(m, R, bs):
    """skew_matrix_row_sparsity: pad to 2R columns, cut each row into blocks of bs, repeat each
    block bs/2 times, skew block j down by j rows."""
    m = np.hstack([m, np.full((m.shape[0], 2 * R - m.shape[1]), PAD, dtype=np.int64)])
    rows = [[m[r, i:i + bs] for i in range(0, 2 * R, bs) for _ in range(bs // 2)] for r in range(m.shape[0])]
    out = []
    for i in range(m.shape[0] + R - 1):
        out.append(np.concatenate([rows[i - j][j] if 0 <= i - j < m.shape[0] else np.full(bs, PAD)
                                   for j in range(len(rows[0]))]))
    return np.array(out, dtype=np.int64)


def build_rowwise(ifmap, Fc, M, N, K, R, C, bs):
    """ws demand and prefetch matrices with OptimizedMapping (systolic_compute_ws)."""
    ofmap = np.arange(M * N, dtype=np.int64).reshape(M, N)
    Kh = Fc.shape[0]
    rf, cf = math.ceil(Kh / R), math.ceil(N / C)
    idm, fdm, odm, fold_util = [], [], [], []
    counts = {"ifmap": 0, "filter": 0, "ofmap": 0}
    for fc in range(cf):
        for fr in range(rf):
            a = skew_row_sparsity(ifmap[:, fr * 2 * R:fr * 2 * R + 2 * R], R, bs)
            b = Fc[fr * R:(fr + 1) * R, fc * C:(fc + 1) * C]
            o = ofmap[:, fc * C:(fc + 1) * C]
            counts["ifmap"] += a.size
            counts["filter"] += b.size
            counts["ofmap"] += o.size
            idm.append(np.vstack([nulls(R, R * bs), a, nulls(C - 1, R * bs)]))
            fdm.append(np.vstack([pad(b, R, C)[::-1], nulls(R + C + M - 2, C)]))
            odm.append(skew(np.vstack([nulls(2 * R - 1, C), pad(o, M, C)])))
            cyc = (2 * R + C + M - 2) + C - 1
            fold_util.append(((pad(b, R, C) >= 0).sum() / (R * C), b.size / (R * C) * M / cyc))
    ipf = rollout(np.vstack([pad(ifmap[:, i * R:(i + 1) * R], M, R) for i in range(math.ceil(K / R))]))
    fpf = np.vstack([pad(Fc[:, i * C:(i + 1) * C], Kh, C) for i in range(cf)]).ravel().tolist()
    return (np.vstack(idm), np.vstack(fdm), np.vstack(odm), ipf, fpf, fold_util, counts, rf * cf)


def storage(rep, mask, slots, m):
    """(original, compressed, metadata) words of the K × N 0/1 mask (compression.py):
    csr/csc: 2 words per non-zero + pointers; ellpack_block: ⌈log2 m⌉ bits per condensed slot."""
    K, N = mask.shape
    nnz = sum(int(mask[k, n] != 0) for k in range(K) for n in range(N))
    if rep == "ellpack_block":
        meta = slots * math.ceil(math.log2(m)) / 32
        return K * N, slots + meta, meta
    ptr = K + 1 if rep == "csr" else N + 1
    return K * N, 2 * nnz + ptr, nnz + ptr


def naive_systolic(H, W, R_f, S_f, C_ch, F, stride, rows, cols, dataflow,
                   ifmap_words, filter_words, ofmap_words, mode="CALC", bw=10, sparse=None):
    """All SCALE-Sim report fields of one layer (scalesim_compat semantics).  `sparse`:
    dict(rep, nm=(n, m), block=0 (layer-wise) or the row-wise block size, seed)."""
    R, C = rows, cols
    ifmap, filt, M, N, K = operand_matrices(H, W, R_f, S_f, C_ch, F, stride)
    K_dense, extra = K, {}
    if sparse and sparse.get("block"):
        mask = rowwise_pattern(K, N, sparse["block"], sparse["seed"])
        Fc = rowwise_filter(filt, mask, sparse["block"])
        built = build_rowwise(ifmap, Fc, M, N, K, R, C, sparse["block"])
        slots = Fc.size
    elif sparse:
        keep = nm_pattern(K, *sparse["nm"]) == 1
        mask = np.tile(keep[:, None].astype(np.int64), (1, N))
        ifmap, filt = ifmap[:, keep], filt[keep, :]
        K = int(keep.sum())
        built = build(dataflow, ifmap, filt, M, N, K, R, C)
        slots = K * N
    else:
        built = build(dataflow, ifmap, filt, M, N, K, R, C)
    idm, fdm, odm, ipf, fpf, fold_util, counts, folds = built
    if sparse:
        o, n_, meta = storage(sparse["rep"], mask, slots, sparse["nm"][1])
        extra = {"original_filter_storage": o, "new_filter_storage": n_, "filter_metadata_storage": meta}
        if dataflow == "ws" and not sparse.get("block"):   # each input row read m/n times
            reads = 0
            for fc in range(math.ceil(N / C)):
                for fr in range(math.ceil(K / R)):
                    reads += M * min(R, K - fr * R) * (sparse["nm"][1] / sparse["nm"][0])
            counts["ifmap"] = reads
    K = K_dense
    if mode == "USER":
        ib = UserReadBuffer(ifmap_words, bw, ipf)
        fb = UserReadBuffer(filter_words, bw, fpf)
        ob = WriteBuffer(ofmap_words, bw)
    else:
        ib, fb, ob = CalcReadBuffer(ifmap_words), CalcReadBuffer(filter_words), \
            WriteBuffer(ofmap_words, C)
    stall, outs = 0, []
    sram = {"ifmap": [], "filter": [], "ofmap": []}
    for i in range(odm.shape[0]):
        c = i + stall
        ia = [int(a) for a in idm[i] if a >= 0]
        fa = [int(a) for a in fdm[i] if a >= 0]
        nv = int((odm[i] >= 0).sum())
        io, fo, oo = ib.row(c, ia), fb.row(c, fa), ob.row(c, nv)
        outs.append(oo)
        if ia:
            sram["ifmap"].append(io)
        if fa:
            sram["filter"].append(fo)
        if nv:
            sram["ofmap"].append(oo)
        stall += max(io - c - 1, fo - c - 1, oo - c)
    i0, i1 = ib.finish()
    f0, f1 = fb.finish()
    o0, o1 = ob.finish(outs[-1])
    total = max(outs)
    map_eff = sum(u for u, _ in fold_util) / len(fold_util)
    comp = sum(v for _, v in fold_util) / len(fold_util)
    res = dict(M=M, N=N, K=K, total_cycles=total, stall_cycles=stall,
               total_cycles_incl_prefetch=int(o1 - min(i0, f0)),
               overall_util_pct=100 * M * N * K / (total * R * C),
               mapping_efficiency_pct=100 * map_eff, compute_util_pct=100 * comp,
               ifmap_sram_reads=counts["ifmap"], filter_sram_reads=counts["filter"],
               ofmap_sram_writes=counts["ofmap"],
               ifmap_dram_reads=ib.num_access, filter_dram_reads=fb.num_access,
               ofmap_dram_writes=ob.num_access,
               ifmap_dram_start=i0, ifmap_dram_stop=i1, filter_dram_start=f0,
               filter_dram_stop=f1, ofmap_dram_start=o0, ofmap_dram_stop=o1)
    for op, lst in sram.items():
        res[f"{op}_sram_start"], res[f"{op}_sram_stop"] = lst[0], lst[-1]
    for op, n in (("ifmap", res["ifmap_sram_reads"]), ("filter", res["filter_sram_reads"]),
                  ("ofmap", res["ofmap_sram_writes"])):
        res[f"avg_{op}_sram_bw"] = n / total
        d = res[f"{op}_dram_reads"] if op != "ofmap" else res["ofmap_dram_writes"]
        res[f"avg_{op}_dram_bw"] = d / (res[f"{op}_dram_stop"] - res[f"{op}_dram_start"] + 1)
    if extra:
        res.update(extra, avg_filter_metadata_sram_bw=extra["filter_metadata_storage"] / total)
    return res
