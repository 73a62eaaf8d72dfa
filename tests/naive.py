"""Deliberately naive, independent implementations of the reader, body selection, normalisation and MPDP
labels, written the way the original readers are: per-joint records, Python loops, a zero-padded T_max array. Slow; tests only."""
import math

import numpy as np

from gltr.bench.official_style import read_records  # noqa: F401  (the one official-style reader)


def select(frames, rule, t_max=300):
    """[t_max, 2, 25, 3] float64 padded array, as the reference readers build it."""
    slots = 2 if rule == "first2" else 4
    data = np.zeros((len(frames), slots, 25, 3))
    for t, bodies in enumerate(frames):
        for m, body in enumerate(bodies[:slots]):
            for v, j in enumerate(body["joints"]):
                data[t, m, v] = [j["x"], j["y"], j["z"]]
    if rule == "energy":
        energy = []
        for m in range(slots):
            s = data[:, m]
            keep = [t for t in range(len(s)) if s[t].sum() != 0]
            energy.append(0.0 if not keep else sum(s[keep][..., a].std() for a in range(3)))
        data = data[:, list(np.argsort(energy)[::-1][:2])]
    if data[0, 0, 0, 0] == 0:
        for t in range(len(data)):
            if data[t, 0, 0, 0] != 0:
                data = data[t:]
                break
    padded = np.zeros((t_max, 2, 25, 3))
    n = min(len(data), t_max)
    padded[:n] = data[:n]
    return padded


def normalise(x, c=20, left=4, right=8, per_frame=False):
    """x: [T_max, P, K, 3] padded -> (motion [L, P, K, 3] float32, L), in the reference's dtype chain
    (as the authors' code): float32 coordinates and angle, float64 rotation of the float32 values."""
    f32 = np.float32
    x = x.astype(f32)
    T, P, K, _ = x.shape
    L = min(sum(1 for t in range(T) if abs(x[t, 0, 0]).sum() != 0), T)
    out = np.zeros(x.shape, np.float64)
    for p in range(P):
        rel = np.zeros((T, K, 3), f32)
        for t in range(T):
            for v in range(K):
                rel[t, v] = x[t, p, c] - x[0, p, c] if v == c else x[t, p, v] - x[t, p, c]
        shoulder = [rel[t, right] - rel[t, left] for t in range(T)]          # float32
        total_z = f32(0)
        for s in shoulder:
            total_z = f32(total_z + s[2])
        for t in range(T):
            vx, vz = shoulder[t][0], shoulder[t][2]
            degrees = np.arccos(vx / (np.sqrt(vx * vx + vz * vz) + f32(1e-4))) * f32(180 / math.pi)
            angle = degrees * f32(math.pi) / f32(180)
            if (vz >= 0) if per_frame else (total_z >= 0):
                angle = -angle
            cos, sin = float(np.cos(angle)), float(np.sin(angle))          # float32 values, as float64
            for v in range(K):
                px, py, pz = (float(a) for a in rel[t, v])
                out[t, p, v] = [cos * px - sin * pz, py, sin * px + cos * pz]
    return out[:L].astype(np.float32), L


def mpdp(x, intervals=(1, 5, 10)):
    """x: [T, P, K, 3] float32 -> direction, magnitude [T, I, P, K], one token at a time in float64."""
    T, P, K, _ = x.shape
    direction = np.zeros((T, len(intervals), P, K), np.uint8)
    magnitude = np.zeros((T, len(intervals), P, K), np.uint8)
    absent = P > 1 and float(x[0, 1].astype(np.float64).sum()) == 0.0
    for t in range(T):
        for i, n in enumerate(intervals):
            for p in range(P):
                for v in range(K):
                    d = [float(a) - float(b) for a, b in zip(x[max(t - n, 0), p, v], x[t, p, v])]  # float64
                    s = [0 if a < 0 else 1 if a == 0 else 2 for a in d]
                    direction[t, i, p, v] = s[0] + 3 * s[1] + 9 * s[2]
                    m = math.sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2])
                    if p == 1 and absent:
                        magnitude[t, i, p, v] = 15
                    elif m == 0:
                        magnitude[t, i, p, v] = 0
                    else:
                        magnitude[t, i, p, v] = min(math.floor(m / 0.01) + 1, 14)
    return direction, magnitude


def authors_feeder_labels(data, intervals=(1, 5, 10)):
    """FeederPretrain.__getitem__'s label lines (GL-Transformer, feeder/ntu_feeder.py), after augmentation:
    data [C, T, V, M] float64, padded with 99.9 after the valid frames, as their feeder builds it (here the
    un-augmented clip, so data_numpy == data on valid frames). -> dir_gt, mag_gt [T, (interval joint person)].
    With one person (M = 1, NW-UCLA: no code of theirs) the absent-person line has nothing to look at; their
    branch for negative intervals is not reached by 1, 5, 10."""
    c, num_frames, _, M = data.shape
    dis_list = []
    for roll in intervals:
        data_roll = np.roll(data, roll, axis=1)
        data_roll[:, :roll, :, :] = np.expand_dims(data[:, 0, :, :], axis=1)
        dis_list.append(data_roll - data)
    dis_concat = np.concatenate(dis_list, axis=2)
    mag_list = []
    for roll_mag in intervals:
        data_roll = np.roll(data, roll_mag, axis=1)
        data_roll[:, :roll_mag, :, :] = np.expand_dims(data[:, 0, :, :], axis=1)
        displacement = data_roll - data
        displacement = np.power(displacement[0], 2) + np.power(displacement[1], 2) + np.power(displacement[2], 2)
        mag = np.sqrt(displacement)
        mag_quant = mag // 0.01 + 1
        mag_quant[mag_quant > 14] = 14
        mag_quant[mag == 0.0] = 0
        if M > 1 and np.sum(data[:, 0, :, 1]) == 0:
            mag_quant[:, :, 1] = 15
        mag_list.append(mag_quant.reshape(num_frames, -1).astype(int))
    mag_gt = np.concatenate(mag_list, axis=1)
    dis_concat = dis_concat.reshape(c, dis_concat.shape[1], -1)
    xyz_direction = np.zeros((c, dis_concat.shape[1], dis_concat.shape[2]), dtype=int)
    xyz_direction[dis_concat == 0] = 1
    xyz_direction[dis_concat > 0] = 2
    dir_gt = xyz_direction[0] + xyz_direction[1] * 3 + xyz_direction[2] * 9
    return dir_gt, mag_gt


def authors_mpdp_loss(out, out2, dir_gt, mag_gt, x_m, lambda_global=0.05, lambda_mag=1.0, persons=2, centre=20):
    """The loss lines of learn_PTmodel.py (GL-Transformer), with each einops `rearrange` written as the
    reshape/permute it stands for. out/out2: direction/magnitude logits [b, c, f, (j p)], the intervals'
    token columns side by side (j = interval * joints + joint, p = person); dir_gt/mag_gt [b, f, (j p)];
    x_m [b, f] valid frames. Column `centre` (20 in their NTU code, p = 2) is interval 1's trajectory slot;
    `persons` and `centre` carry the same lines to NW-UCLA's one-person layout, for which they wrote none."""
    import torch
    criterion = torch.nn.CrossEntropyLoss()
    p = persons

    def logits(o):
        b, c, f, jp = o.shape
        o = o.reshape(b, c, f, jp // p, p)                                         # 'b c f (j p) -> b c f j p'
        g = o[:, :, :, centre, :].unsqueeze(3)
        j = torch.cat((o[:, :, :, :centre, :], o[:, :, :, centre + 1:, :]), axis=3)
        g = g.permute(0, 2, 3, 4, 1).reshape(b, f, -1, c)                         # 'b c f j p -> b f (j p) c'
        j = j.permute(0, 2, 3, 4, 1).reshape(b, f, -1, c)
        return g[x_m].reshape(-1, c), j[x_m].reshape(-1, c)                        # 'm j k -> (m j) k'

    def labels(gt):
        b, f, jp = gt.shape
        gt = gt.reshape(b, f, jp // p, p)                                          # 'b f (j p) -> b f j p'
        g = gt[:, :, centre, :].unsqueeze(3)
        j = torch.cat((gt[:, :, :centre, :], gt[:, :, centre + 1:, :]), axis=2)
        return g.reshape(b, f, -1)[x_m].reshape(-1), j.reshape(b, f, -1)[x_m].reshape(-1)

    out_global, out_joints = logits(out)
    dir_gt_global, dir_gt_joint = labels(dir_gt)
    loss_dir_g = criterion(out_global, dir_gt_global)
    loss_dir = criterion(out_joints, dir_gt_joint)
    out2_global, out2_joints = logits(out2)
    mag_gt_global, mag_gt_joint = labels(mag_gt)
    loss_mag_g = criterion(out2_global, mag_gt_global)
    loss_mag = criterion(out2_joints, mag_gt_joint)
    return (lambda_global * loss_dir_g + loss_dir) + lambda_mag * (lambda_global * loss_mag_g + loss_mag)


# ----------------------------------------------------------------------------- CTR-GCN, written out as its
# data/ntu*/get_raw_skes_data.py, get_raw_denoised_data.py and seq_transformation.py do it (dicts, loops)

def ctrgcn_raw_bodies(path):
    """{"num_frames", "data": {body id: {"joints" [n*25, 3] float32, "interval", "motion"}}}."""
    lines = open(path).read().splitlines()
    num_frames, at, valid, bodies = int(lines[0]), 1, -1, {}
    dropped = 0
    for _ in range(num_frames):
        nb = int(lines[at]); at += 1
        if nb == 0:
            dropped += 1
            continue
        valid += 1
        for _ in range(nb):
            bid = lines[at].split()[0]; at += 1
            nj = int(lines[at]); at += 1
            joints = np.zeros((25, 3), np.float32)
            for j in range(nj):
                joints[j] = np.array(lines[at].split()[:3], dtype=np.float32); at += 1
            if bid not in bodies:
                bodies[bid] = {"joints": joints, "interval": [valid]}
            else:
                bodies[bid]["joints"] = np.vstack((bodies[bid]["joints"], joints))
                bodies[bid]["interval"].append(bodies[bid]["interval"][-1] + 1)
    if len(bodies) > 1:
        for b in bodies.values():
            b["motion"] = np.sum(np.var(b["joints"], axis=0))
    return {"num_frames": num_frames - dropped, "data": bodies}


def ctrgcn_denoised(raw):
    """[T, 75] or [T, 150] float32, as get_raw_denoised_data."""
    T, bodies = raw["num_frames"], dict(raw["data"])

    def one(b):
        joints = np.zeros((T, 75), np.float32)
        joints[b["interval"][0]:b["interval"][-1] + 1] = b["joints"].reshape(-1, 75)
        return joints

    if len(bodies) == 1:
        return one(list(bodies.values())[0])
    for bid, b in list(bodies.items()):                                  # length
        if len(b["interval"]) <= 11:
            del bodies[bid]
    if len(bodies) != 1:
        for bid, b in list(bodies.items()):                              # spread
            if len(bodies) == 1:
                break
            points = b["joints"].reshape(-1, 25, 3)
            valid = [i for i in range(len(points))
                     if float(points[i, :, 0].max() - points[i, :, 0].min()) <= 0.8 * float(points[i, :, 1].max() - points[i, :, 1].min())]
            noise = len(b["interval"]) - len(valid)
            if noise == 0:
                continue
            if noise / float(len(b["interval"])) >= 0.69754:
                del bodies[bid]
            else:
                b["motion"] = min(b["motion"], np.sum(np.var(points[valid].reshape(-1, 3), axis=0)))
    ordered = [b for _, b in sorted(bodies.items(), key=lambda kv: kv[1]["motion"], reverse=True)] \
        if len(bodies) > 1 else list(bodies.values())
    if len(ordered) == 1:
        joints = one(ordered[0])
    else:
        joints = np.zeros((T, 150), np.float32)
        a1 = ordered.pop(0)
        s1, e1 = a1["interval"][0], a1["interval"][-1]
        joints[s1:e1 + 1, :75] = a1["joints"].reshape(-1, 75)
        s2, e2 = 0, 0
        for b in ordered:
            s, e = b["interval"][0], b["interval"][-1]
            if min(e1, e) - max(s1, s) <= 0:
                joints[s:e + 1, :75] = b["joints"].reshape(-1, 75)
                s1, e1 = min(s, s1), max(e, e1)
            elif min(e2, e) - max(s2, s) <= 0:
                joints[s:e + 1, 75:] = b["joints"].reshape(-1, 75)
                s2, e2 = min(s, s2), max(e, e2)
    return joints[np.where(joints.sum(axis=1) != 0)[0]]


def ctrgcn_translated(joints):
    """seq_translation of one sequence."""
    joints = joints.copy()
    two = joints.shape[1] == 150
    if two:
        miss1 = np.where(joints[:, :75].sum(axis=1) == 0)[0]
        miss2 = np.where(joints[:, 75:].sum(axis=1) == 0)[0]
    i = 0
    while i < len(joints):
        if np.any(joints[i, :75] != 0):
            break
        i += 1
    origin = np.copy(joints[i, 3:6])
    for f in range(len(joints)):
        joints[f] -= np.tile(origin, 50 if two else 25)
    if two:
        joints[miss1, :75] = 0
        joints[miss2, 75:] = 0
    return joints


# ----------------------------------------------------------------------------- MAMP, written out as its
# data/pku_v{1,2}/pku_gendata.py does it (numpy.loadtxt, os.listdir, one label row at a time)

def mamp_gendata(data_path, phase, benchmark, part):
    """(names '<file>_<idx>', x float32 [N, 300, 150], labels) of one benchmark part, as gendata()."""
    import os
    views, subjects = (("cross-view.txt", "cross-subject.txt") if phase == 1 else
                       ("cross_view_v2.txt", "cross_subject_v2.txt"))
    with open(f"{data_path}/{views}") as f:
        training_views = f.readlines()[1].strip("\n").split(", ")
    with open(f"{data_path}/{subjects}") as f:
        training_subjects = f.readlines()[1].strip("\n").split(", ")
    names, joints, labels = [], [], []
    for filename in os.listdir(f"{data_path}/skeleton"):
        istraining = filename[:-4] in (training_views if benchmark == "XView" else training_subjects)
        if istraining != (part == "train"):
            continue
        video_labels = np.loadtxt(f"{data_path}/label/{filename}", delimiter=",")
        for idx in range(video_labels.shape[0]):
            seq_data = np.loadtxt(f"{data_path}/skeleton/{filename}")
            label = np.loadtxt(f"{data_path}/label/{filename}", delimiter=",")
            start, end = int(label[idx][1]), int(label[idx][2])
            data = seq_data[start:end, :]
            if data.sum() != 0:
                names.append(f"{filename}_{idx}")
                labels.append(int(video_labels[idx][0] - 1))
                joints.append(data)
    fp = np.zeros((len(joints), 300, 150), dtype=np.float32)
    for i, data in enumerate(joints):
        fp[i, 0:min(data.shape[0], 300), :] = data[0:min(data.shape[0], 300), :]
    return names, fp, labels


def mamp_one_hot(labels):
    y = np.zeros((len(labels), 51))
    for i, l in enumerate(labels):
        y[i, l] = 1
    return y
