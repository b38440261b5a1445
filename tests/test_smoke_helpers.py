import torch
from helpers import check_op

import tinygrad_edu as tg


def test_check_op_on_matmul(device):
    check_op(lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4, 5)], device=device)


def test_check_op_on_broadcast_mul(device):
    check_op(lambda a, b: a * b, torch.mul, [(3, 1), (2, 1, 4)], device=device)
    check_op(lambda a: tg.functional.gelu(a), torch.nn.functional.gelu, [(5, 4)], device=device)
