// The selective scan of a Mamba block as one CPU kernel (issue 29): forward and backward.
//
// Token-major float32 layout, as agents/robomamba/fast_mamba.py uses it:
//   u, delta (L, B, D); At = A transposed (N, D); Bm, Cm (L, B, N).
//   h[t] = exp(delta[t] * At) * h[t - 1] + Bm[t] (delta u)[t],  h[-1] = 0;  y[t] = Cm[t] . h[t] (sum over N).
// Each (batch, channel block) is independent: its state (N x a block of channels) stays in the L1 cache
// across tokens, and the exponential is computed inline (a vectorisable polynomial), so the (L, B, N, D)
// decay tensor is never written. The PyTorch scan in fast_mamba.py computes the same sums; results agree
// to float32 rounding (tests/test_fast_mamba.py).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <vector>

namespace {

constexpr int64_t kBlock = 64;  // channels per work item: the state block is N x 64 floats (4 KiB at N = 16)

// exp(x) for x <= 0 (here x = delta * A, delta > 0, A < 0) to ~1 ulp: 2^k * p(r), r = x - k ln 2 in
// [-ln2/2, ln2/2], p a degree-6 polynomial (Cephes' expf coefficients). Branch-free so the channel loop
// vectorises. Below -87.3 the result is clamped to exp(-87.3) ~ 1e-38 (the true value is a subnormal or 0;
// either way the decayed state is nothing).
inline float exp_nonpositive(float x) {
  x = x < -87.3f ? -87.3f : x;  // conditional moves, not branches
  x = x > 0.0f ? 0.0f : x;
  const float round_magic = 12582912.0f;  // 1.5 * 2^23: adding and subtracting it rounds to an integer
  float k = (x * 1.44269504088896341f + round_magic) - round_magic;
  float r = x - k * 0.693359375f;
  r = r - k * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(k) + 127) << 23);
}

void check_inputs(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& At, const at::Tensor& Bm,
                  const at::Tensor& Cm) {
  for (const at::Tensor* t : {&u, &delta, &At, &Bm, &Cm}) {
    TORCH_CHECK(t->device().is_cpu() && t->scalar_type() == at::kFloat && t->is_contiguous(),
                "robomamba scan: inputs must be contiguous float32 CPU tensors");
  }
  TORCH_CHECK(u.dim() == 3 && delta.sizes() == u.sizes(), "robomamba scan: u and delta must be (L, B, D)");
  TORCH_CHECK(At.dim() == 2 && At.size(1) == u.size(2), "robomamba scan: At must be (N, D)");
  TORCH_CHECK(Bm.dim() == 3 && Bm.size(0) == u.size(0) && Bm.size(1) == u.size(1) && Bm.size(2) == At.size(0) &&
                  Cm.sizes() == Bm.sizes(),
              "robomamba scan: Bm and Cm must be (L, B, N)");
}

// Returns (y (L, B, D), last state (B, N, D)).
std::tuple<at::Tensor, at::Tensor> scan_fwd(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& At,
                                            const at::Tensor& Bm, const at::Tensor& Cm) {
  check_inputs(u, delta, At, Bm, Cm);
  const int64_t L = u.size(0), B = u.size(1), D = u.size(2), N = At.size(0);
  at::Tensor y = at::empty({L, B, D}, u.options());
  at::Tensor last = at::zeros({B, N, D}, u.options());
  const float *pu = u.data_ptr<float>(), *pd = delta.data_ptr<float>(), *pA = At.data_ptr<float>();
  const float *pB = Bm.data_ptr<float>(), *pC = Cm.data_ptr<float>();
  float *py = y.data_ptr<float>(), *plast = last.data_ptr<float>();
  const int64_t blocks = (D + kBlock - 1) / kBlock;
  at::parallel_for(0, B * blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> h(N * kBlock), du(kBlock), acc(kBlock);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / blocks, d0 = (item % blocks) * kBlock, w = std::min(kBlock, D - d0);
      std::fill(h.begin(), h.end(), 0.0f);
      for (int64_t t = 0; t < L; ++t) {
        const int64_t row = (t * B + b) * D + d0;
        const float *dl = pd + row, *ut = pu + row, *bt = pB + (t * B + b) * N, *ct = pC + (t * B + b) * N;
        for (int64_t d = 0; d < w; ++d) {
          du[d] = dl[d] * ut[d];
          acc[d] = 0.0f;
        }
        for (int64_t n = 0; n < N; ++n) {
          const float bn = bt[n], cn = ct[n];
          const float* an = pA + n * D + d0;
          float* hn = h.data() + n * kBlock;
#pragma omp simd
          for (int64_t d = 0; d < w; ++d) {
            hn[d] = exp_nonpositive(dl[d] * an[d]) * hn[d] + bn * du[d];
            acc[d] += cn * hn[d];
          }
        }
        std::memcpy(py + row, acc.data(), w * sizeof(float));
      }
      for (int64_t n = 0; n < N; ++n) std::memcpy(plast + (b * N + n) * D + d0, h.data() + n * kBlock, w * sizeof(float));
    }
  });
  return {y, last};
}

// Gradients of sum(gy * y) w.r.t. (u, delta, At, Bm, Cm). Per (batch, channel block): the forward
// recurrence again, its states and decays kept in the work item's own buffers (L x N x 64 floats each,
// cache-sized at these lengths) rather than written to memory by the forward pass; then backwards in time:
// g[t] = dL/dh[t] = Cm[t] gy[t] + exp(delta[t+1] At) g[t+1], q[t] = g[t] h[t-1] exp(delta[t] At) =
// dL/d(delta At)[t]. Sums over channels (for Bm, Cm) are kept per block and added up after, so work items
// never write the same element.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> scan_bwd(
    const at::Tensor& gy_in, const at::Tensor& u, const at::Tensor& delta, const at::Tensor& At, const at::Tensor& Bm,
    const at::Tensor& Cm) {
  check_inputs(u, delta, At, Bm, Cm);
  at::Tensor gy = gy_in.contiguous();
  const int64_t L = u.size(0), B = u.size(1), D = u.size(2), N = At.size(0);
  TORCH_CHECK(gy.sizes() == u.sizes() && gy.scalar_type() == at::kFloat, "robomamba scan: gy must be (L, B, D)");
  const int64_t blocks = (D + kBlock - 1) / kBlock;
  at::Tensor g_u = at::empty({L, B, D}, u.options()), g_delta = at::empty({L, B, D}, u.options());
  at::Tensor gAt_part = at::zeros({B, N, D}, u.options());
  at::Tensor gB_part = at::zeros({blocks, L, B, N}, u.options()), gC_part = at::zeros({blocks, L, B, N}, u.options());
  const float *pu = u.data_ptr<float>(), *pd = delta.data_ptr<float>(), *pA = At.data_ptr<float>();
  const float *pB = Bm.data_ptr<float>(), *pC = Cm.data_ptr<float>(), *pg = gy.data_ptr<float>();
  float *pgu = g_u.data_ptr<float>(), *pgd = g_delta.data_ptr<float>(), *pgA = gAt_part.data_ptr<float>();
  float *pgB = gB_part.data_ptr<float>(), *pgC = gC_part.data_ptr<float>();
  at::parallel_for(0, B * blocks, 1, [&](int64_t begin, int64_t end) {
    const int64_t stride = N * kBlock;  // one token's states in the buffers
    std::vector<float> hs((L + 1) * stride, 0.0f), as(L * stride), carried(stride), du(kBlock), gdu(kBlock),
        glogA(kBlock);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / blocks, blk = item % blocks, d0 = blk * kBlock, w = std::min(kBlock, D - d0);
      // hs[0] = h[-1] = 0, hs[t + 1] = h[t]; as[t] = exp(delta[t] At)
      for (int64_t t = 0; t < L; ++t) {
        const int64_t row = (t * B + b) * D + d0;
        const float *dl = pd + row, *ut = pu + row, *bt = pB + (t * B + b) * N;
        for (int64_t d = 0; d < w; ++d) du[d] = dl[d] * ut[d];
        for (int64_t n = 0; n < N; ++n) {
          const float bn = bt[n];
          const float* an = pA + n * D + d0;
          const float* hp = hs.data() + t * stride + n * kBlock;
          float* hn = hs.data() + (t + 1) * stride + n * kBlock;
          float* a = as.data() + t * stride + n * kBlock;
#pragma omp simd
          for (int64_t d = 0; d < w; ++d) {
            a[d] = exp_nonpositive(dl[d] * an[d]);
            hn[d] = a[d] * hp[d] + bn * du[d];
          }
        }
      }
      std::fill(carried.begin(), carried.end(), 0.0f);  // exp(delta[t+1] At) g[t+1], zero after the last token
      for (int64_t t = L - 1; t >= 0; --t) {
        const int64_t row = (t * B + b) * D + d0, nrow = t * B + b;
        const float *dl = pd + row, *ut = pu + row, *gt = pg + row, *bt = pB + nrow * N, *ct = pC + nrow * N;
        for (int64_t d = 0; d < w; ++d) {
          du[d] = dl[d] * ut[d];
          gdu[d] = 0.0f;
          glogA[d] = 0.0f;
        }
        float* gBt = pgB + (blk * L * B + nrow) * N;
        float* gCt = pgC + (blk * L * B + nrow) * N;
        for (int64_t n = 0; n < N; ++n) {
          const float bn = bt[n], cn = ct[n];
          const float* an = pA + n * D + d0;
          const float* hp = hs.data() + t * stride + n * kBlock;
          const float* hn = hp + stride;
          const float* a = as.data() + t * stride + n * kBlock;
          float* cr = carried.data() + n * kBlock;
          float* gA = pgA + (b * N + n) * D + d0;
          float sB = 0.0f, sC = 0.0f;
#pragma omp simd reduction(+ : sB, sC)
          for (int64_t d = 0; d < w; ++d) {
            const float g = cr[d] + cn * gt[d];
            sC += hn[d] * gt[d];
            sB += g * du[d];
            gdu[d] += bn * g;
            const float q = g * hp[d] * a[d];
            gA[d] += q * dl[d];
            glogA[d] += q * an[d];
            cr[d] = a[d] * g;
          }
          gBt[n] = sB;
          gCt[n] = sC;
        }
        for (int64_t d = 0; d < w; ++d) {
          pgu[row + d] = gdu[d] * dl[d];
          pgd[row + d] = glogA[d] + gdu[d] * ut[d];
        }
      }
    }
  });
  return {g_u, g_delta, gAt_part.sum(0), gB_part.sum(0), gC_part.sum(0)};
}

}  // namespace

TORCH_LIBRARY(robomamba_scan, m) {
  m.def("scan_fwd(Tensor u, Tensor delta, Tensor At, Tensor Bm, Tensor Cm) -> (Tensor, Tensor)");
  m.def("scan_bwd(Tensor gy, Tensor u, Tensor delta, Tensor At, Tensor Bm, Tensor Cm) -> "
        "(Tensor, Tensor, Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(robomamba_scan, CPU, m) {
  m.impl("scan_fwd", &scan_fwd);
  m.impl("scan_bwd", &scan_bwd);
}
