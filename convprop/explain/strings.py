"""Every prose string of the explainer, per language, in one place.

Fields in braces are filled in by ``document.py``: plain values become text,
formulas become inline math. Arabic follows the source article: Modern
Standard Arabic prose with the technical terms kept in Latin script.
"""

from __future__ import annotations

import re

LANGUAGES = ("en", "ar")
DIRECTION = {"en": "ltr", "ar": "rtl"}

STRINGS = {
    "en": {
        "frobenius_example": "For example, for two 2×2 matrices:",
        "numeric_fixed": (
            "The input's values A stay as given (they decide which entry is each window's maximum); random values "
            "(seed {seed}) for dL/dB are substituted into the equations, the same values run through convprop's "
            "autograd, and central finite differences (step {eps}) estimate every gradient entry. The largest "
            "absolute differences:"
        ),
        "numeric_torch": "PyTorch {version} computes the same gradients with its own autograd, as a further witness.",
        "summary_config": ("With this layer's stride {s}, padding {p} and dilation {d}, the two operations become:"),
        "summary_ops": (
            "Here {dilate} puts s − 1 zeros between neighbouring entries, {pad} surrounds with k zeros on each side, "
            "{subsample} "
            "keeps rows and columns 1, 1 + d, 1 + 2d, …, and {crop} removes p rows and columns from each side; an "
            "operation that would change nothing (stride 1, padding 0, dilation 1) is left out."
        ),
        "summary_uncovered": (
            "No window reaches the last r rows and columns of the (padded) input here: {trim} leaves them out of "
            "it, and {extend} puts r rows and columns of zeros in their place at the bottom and right of ∂L/∂O, "
            "so that ∂L/∂X has the input's size."
        ),
        "compact": (
            "This layer is large ({n} input entries with the channels), too large to read as whole matrices. "
            "This write-up states the general index rule, works a few entries out, and lists each closed form as "
            "numbered steps; the full matrices are collapsed (the HTML page shows them behind a toggle)."
        ),
        "index_rule": (
            "Every entry of O follows one index rule (indices from 1; X is 0 outside its {size} entries, in the "
            "padding):"
        ),
        "index_rule_groups": "Here c runs over the {n} input channels of the group that output channel o reads.",
        "worked": "A few entries worked out:",
        "details_inputs": "X, F and dL/dO in full",
        "details_closed_f": "The filter gradient's closed form, matrix by matrix",
        "details_closed_x": "The input gradient's closed form, matrix by matrix",
        "omitted": (
            "{summary}: left out of this format ({n} equations); the HTML page shows them behind a toggle, and "
            "the derivation object (convprop.explain.derive_conv) holds them in Python."
        ),
        "steps_f": "Step by step, for dL/dF:",
        "steps_x": "Step by step, for dL/dX:",
        "step_insert": "Insert zeros into dL/dO, {zeros}: {a} → {b}.",
        "step_pad_x": "Pad X with zeros as in the forward pass, {zeros}: {a} → {b}.",
        "step_drop": "Leave out {what} of the padded X, which no window reaches: {a} → {b}.",
        "step_corr_f": "Correlate the padded X with the zero-inserted dL/dO: {a} ⊗ {b} → {c}.",
        "step_subsample": "Keep rows and columns 1, 1 + {d}, 1 + 2·{d}, …: {a} → {b}, the filter's size.",
        "step_pad_go": "Surround dL/dO with zeros, {zeros}: {a} → {b}.",
        "step_pad_go_uncovered": (
            "Surround dL/dO with zeros, {zeros}, plus {what} at the bottom and right for the part of the input "
            "that no window reached: {a} → {b}."
        ),
        "step_filter": "Dilate the filter ({d}) and rotate it by 180°: {a} → {b}.",
        "step_rotate": "Rotate the filter by 180°: {a}.",
        "step_corr_x": "Correlate the padded dL/dO with the rotated filter: {a} ⊗ {b} → {c}.",
        "step_corr_x_channels": (
            "Correlate the padded dL/dO with the rotated filter: {a} ⊗ {b} → {c}, and add up these results over "
            "the output channels that read each input channel."
        ),
        "step_crop": "Crop the forward padding, {what} from each side: {a} → {b}, the input's size.",
        "between_same": "{n} between neighbouring entries",
        "between_axes": "{r} between its rows and {c} between its columns",
        "around_same": "{n} on each side",
        "around_axes": "{r} above and below, {c} left and right",
        "and": " and ",
        "last_one": "the last {noun}",
        "last_many": "the last {count}",
        "title_conv": "Backpropagation through a convolution layer",
        "config_conv": (
            "Input {X} of size {size}, filter {F} of size {ksize}, stride {stride}, padding {padding}, "
            "dilation {dilation}, {cin_n}, {cout_n}, groups {groups}. "
            "The output {O} has size {osize}: each side is {formula}."
        ),
        "h_forward": "The forward pass",
        "forward": (
            "The layer slides the filter over the input (surrounded by zeros when the padding is not 0) and, "
            "at each position, multiplies the overlapping entries and adds the products up. This is a "
            "cross-correlation, written {corr} here as in the article (many texts write {star}):"
        ),
        "forward_entries": "Written out entry by entry:",
        "channels_note": (
            "With several channels, a superscript names the channel: {Xc} is input channel c, {Oo} output channel "
            "o, and {Foc} the filter slice that output channel o applies to its c-th input channel. Each output "
            "channel adds up these correlations over the input channels it reads."
        ),
        "groups_note": (
            "With {g} groups, the {cin} input channels are split into {g} groups of {gi}, and the {cout} output "
            "channels into {g} groups of {go}. Output channel o reads only the input channels of its own group, so "
            "the c of {Foc} counts within that group: it is input channel {which}."
        ),
        "h_why": "Why do we need the local gradients?",
        "why": (
            "Backpropagation reaches this layer with {dO}, the loss gradient with respect to its output. "
            "From it the layer computes two gradients: {dF}, to update the filter, and {dX}, which becomes "
            "the loss gradient of the previous layer and carries backpropagation on."
        ),
        "h_local_f": "The local gradients with respect to F",
        "local_f": "Differentiating every entry of O with respect to one filter entry gives a matrix the size of O:",
        "h_chain": "The chain rule on matrices",
        "chain": (
            "The loss gradient of one entry is the Frobenius inner product (the sum of the element-wise "
            "products) of {dO} with that entry's local gradient:"
        ),
        "chain_sub": "Substituting the local gradients:",
        "h_closed_f": "The filter gradient is a convolution",
        "closed_f": (
            "These are the forward pass's sliding-window sums again, with {dO} in the place of the filter: the "
            "layer applies convolution in the forward pass to compute the feature map, and in the backward pass "
            "to compute the gradients."
        ),
        "closed_f_stride": (
            "With stride {s}, neighbouring output entries came from windows {s} apart, so {dO} slides over X "
            "with {zeros}: the stride becomes a dilation."
        ),
        "closed_f_padding": "X is padded with {zeros}, exactly as in the forward pass.",
        "closed_f_dilation": (
            "With dilation {d}, the filter's entries lie {d} apart on the input, so of this correlation only the "
            "rows and columns 1, 1 + {d}, 1 + 2·{d}, … are filter gradients (the window moves {d} steps at a "
            "time): {sub} keeps them, which gives the filter's size."
        ),
        "uncovered": (
            "No window reaches {what} of the padded input: these entries take no part in the output, and their "
            "gradient is 0."
        ),
        "uncovered_unpadded": (
            "No window reaches {what} of X: these entries take no part in the output, and their gradient is 0."
        ),
        "h_local_x": "The local gradients with respect to X",
        "local_x": "In the same way for the input entries ({n} of them shown; the others follow the same pattern):",
        "chain_x_rule": "The chain rule is the same Frobenius inner product, now with the local gradients of X:",
        "chain_x": "Applying the chain rule gives:",
        "h_corr": "Convolution vs cross-correlation",
        "corr": (
            "Although convolutional networks carry convolution in their name, the operation they compute is "
            "cross-correlation: the filter slides over the input as it is, and overlapping entries are multiplied "
            "and summed. A true convolution first rotates the filter by 180 degrees. The equations of {dX} are a "
            "true convolution, so the rotated filter appears:"
        ),
        "h_closed_x": "The input gradient is a full convolution",
        "closed_x": (
            "{dX} is the full convolution of {dO} with the filter: {dO} is surrounded by {zeros}, so that every "
            "filter position that touches the input is counted, and the rotated filter slides over it."
        ),
        "closed_x_stride": "Because of the stride {s}, {dO} first gets {zeros}.",
        "closed_x_uncovered": (
            "Zeros added at the bottom and right ({what}) stand for the part of the input that no window reached."
        ),
        "closed_x_dilation": (
            "With dilation {d}, the rotated filter's entries are {d} apart as well: it is the dilated filter "
            "{dil}, rotated, that slides over the padded {dO}."
        ),
        "closed_x_crop": (
            "The full result covers the padded input; cropping {what} from each side (the forward padding) gives {dX}:"
        ),
        "closed_x_channels": (
            "With several channels, each input channel's gradient adds up the contributions of every output "
            "channel that reads it: the filter's input and output axes swap."
        ),
        "h_transposed": "The input gradient is a transposed convolution",
        "transposed": (
            "The same result is a transposed convolution of {dO} with the same, unrotated filter. That is why "
            "transposed convolution upsamples: it is the backward pass of a convolution."
        ),
        "h_proof": "Machine-checked proof",
        "proof_ok": (
            "SymPy expanded both sides, the chain-rule result and the closed form, for each of the {nf} entries "
            "of dL/dF and the {nx} entries of dL/dX: every difference is 0. Verified."
        ),
        "proof_pool_ok": (
            "SymPy expanded both sides, the chain-rule result and the direct routing, for each of the {n} entries "
            "of dL/dA: every difference is 0. Verified."
        ),
        "proof_fail": "SymPy expanded both sides and found entries that differ ({which}). NOT verified.",
        "h_numeric": "Numeric check",
        "numeric": (
            "Random values (seed {seed}) are substituted into the equations; the same values run through "
            "convprop's autograd, and central finite differences (step {eps}) estimate every gradient entry. "
            "The largest absolute differences:"
        ),
        "numeric_only": (
            "This configuration is too large to read symbolically, so the closed forms are evaluated on random "
            "numbers (seed {seed}) and compared with convprop's autograd and with central finite differences "
            "(step {eps}, on a sample of entries). The largest absolute differences:"
        ),
        "numeric_ok": "All agree (largest difference {err}).",
        "numeric_fail": "Disagreement beyond the tolerance (largest difference {err}).",
        "numeric_ties": "Finite differences are skipped: the input has ties, where max is not differentiable.",
        "col_grad": "gradient",
        "col_compared": "compared",
        "col_error": "max |difference|",
        "vs": "vs",
        "m_symbolic": "symbolic",
        "m_autograd": "autograd",
        "m_finite differences": "finite differences",
        "m_closed form": "closed form",
        "m_transposed conv": "transposed convolution",
        "m_PyTorch": "PyTorch",
        "h_summary": "Summary",
        "summary": "Backpropagation through a convolution layer comes down to two operations:",
        "more": "… and {n} more of the same form.",
        "h_animations": "Animations",
        "anim_forward": "The forward pass: the filter slides over the input.",
        "anim_grad_f": "dL/dF: dL/dO slides over the input X.",
        "anim_grad_x": (
            "dL/dX: the rotated filter slides over the padded dL/dO (full convolution), then the crop: the greyed "
            "cells (the forward padding, if any) are dropped, and each kept cell is captioned by its index in X."
        ),
        "anim_pool": "The backward pass of pooling: where each window's gradient goes.",
        "f_padded": "padded dL/dO",
        "f_cropped": "cropped (padding)",
        "f_max": "{g} → {a} (max {v}); the others get 0",
        "f_avg": "{g} → each of {n} entries gets {share}",
        "title_numeric_conv": "Numeric check of a convolution layer's backward pass",
        "title_numeric_pool": "Numeric check of a pooling layer's backward pass",
        "title_pool_max": "Backpropagation through a max pooling layer",
        "title_pool_avg": "Backpropagation through an average pooling layer",
        "pool_intro": (
            "Pooling layers have no learnable parameters, but just as they shape the forward pass they shape the "
            "flow of gradients in the backward pass. The input A has size {size}, the output B size {osize}; "
            "window {ksize}, stride {stride}, padding {padding}:"
        ),
        "pool_forward": "Each output entry pools one window of the input:",
        "pool_grad_out": "Backpropagation brings {dB}, and from it we compute {dA} for the previous layer:",
        "pool_max": (
            "In max pooling only the maximum of each window passes to the next layer, so it alone took part in "
            "the error and it alone receives the window's gradient; the other entries receive 0. The local "
            "gradient of a window is 1 at its maximum and 0 elsewhere."
        ),
        "pool_ties": (
            "When a window holds its maximum more than once, the first one in row-major order receives the "
            "gradient, as in PyTorch."
        ),
        "pool_ties_here": "This input has ties in the window of {which}.",
        "pool_ties_here_many": "This input has ties in the windows of {which}.",
        "pool_chosen": (
            "Here the maximum of each window was chosen rather than found from values: the result holds for every "
            "input whose windows have their first maxima at those entries."
        ),
        "pool_overlap": (
            "The windows overlap (stride {s} is smaller than the window {k}), so an entry that lies in several "
            "windows receives the sum of their gradients."
        ),
        "pool_avg": (
            "In average pooling every entry of a window contributes equally to the output, so the window's "
            "gradient is spread evenly: each entry receives the gradient divided by the window's divisor."
        ),
        "pool_avg_incl": "Padding zeros count in the divisor (count_include_pad=True): every window divides by {div}.",
        "pool_avg_excl": (
            "Padding zeros do not count in the divisor (count_include_pad=False): a window that overlaps the "
            "padding divides only by the number of real entries it covers."
        ),
        "pool_local": "The local gradients, one matrix the size of B per input entry ({n} of them shown):",
        "pool_chain": "The chain rule, as for the convolution layer:",
        "pool_result": "The result:",
        "title_transposed": "Backpropagation through a transposed convolution layer",
        "config_transposed": (
            "Input {X} of size {size}, filter {F} of size {ksize}, stride {stride}, padding {padding}, "
            "output_padding {op}, dilation {dilation}, {cin} input and {cout} output channels, groups {groups}. "
            "The output {O} has size {osize}: each side is {formula}."
        ),
        "h_t_forward": "The forward pass: a convolution's backward pass, run forward",
        "t_scatter": (
            "Every entry of {X} scatters a copy of the filter, scaled by that entry, into the output; copies start "
            "{s} cells apart, add up where they overlap, and the padding is cut off the edges. Written out entry by "
            "entry:"
        ),
        "t_full": (
            "That is exactly the full convolution that gives a convolution layer's input gradient {dX}: {X} with the "
            "stride's zeros inserted between its entries and padded, correlated with the rotated filter, then "
            "cropped by the padding:"
        ),
        "h_t_grad_x": "The input gradient is an ordinary convolution",
        "t_grad_x": (
            "By the chain rule, the gradient of each input entry is the Frobenius inner product of {dO} with that "
            "entry's local gradient. An X entry reached exactly the output cells its filter copy covered, so its "
            "gradient adds up {dO} over that window times the filter: the forward pass of a convolution, with the "
            "same stride, padding and dilation, run on {dO}."
        ),
        "h_t_grad_f": "The filter gradient",
        "t_grad_f_dilation": (
            " With dilation {d}, only the result's rows and columns 1, 1 + {d}, 1 + 2·{d}, … are kept."
        ),
        "t_grad_f": (
            "Each filter entry met every entry of {X} once, at the output cell its copy put it in; so the filter "
            "gradient correlates {dO} (padded as in the forward pass) with {X}, whose entries now stand {s} cells "
            "apart (the stride's zeros inserted).{dilation}"
        ),
        "proof_t_ok": (
            "SymPy expanded both sides of all three equations: the {no} entries of O against the full convolution, "
            "the {nx} entries of dL/dX against the convolution of dL/dO, and the {nf} entries of dL/dF against its "
            "correlation with X: every difference is 0. Verified."
        ),
        "summary_t": (
            "A transposed convolution and a convolution trade places: the forward pass of one is the input "
            "gradient of the other."
        ),
        "pool_ceil": (
            "With ceil_mode=True the output size is rounded up, so the last window may hang over the edge of the "
            "input; only its part inside the (padded) input counts."
        ),
        "pool_ceil_same": (
            "With ceil_mode=True the output size is rounded up; for this input the windows fit exactly, so "
            "rounding up changes nothing."
        ),
        "verified": "verified",
        "not_verified": "NOT verified",
    },
    "ar": {
        "frobenius_example": "مثال ذلك لمصفوفتين بحجم 2×2:",
        "numeric_fixed": (
            "تبقى قيم المدخل A كما هي (فهي التي تحدد العنصر الأكبر في كل نافذة)، ونعوّض بقيم عشوائية "
            "(seed = {seed}) عن dL/dB في المعادلات، ونمرر القيم نفسها عبر الـautograd في convprop، ونقدّر كل "
            "عنصر من عناصر الـgradient بالفروق المحدودة المركزية (finite differences) بخطوة {eps}. أكبر فرق "
            "مطلق بين كل طريقتين:"
        ),
        "numeric_torch": "ويحسب PyTorch {version} الـgradients نفسها بالـautograd الخاص به، شاهدًا إضافيًا.",
        "summary_config": ("ومع الـstride ‏{s} والـpadding ‏{p} والـdilation ‏{d} في هذه الطبقة، تصبح العمليتان:"),
        "summary_ops": (
            "حيث تُدرج {dilate} عدد s − 1 من الأصفار بين كل عنصرين متجاورين، وتحيط {pad} المصفوفة بعدد k من "
            "الأصفار من كل جانب، "
            "وتُبقي {subsample} الصفوف والأعمدة 1 و1 + d و1 + 2d …، وتحذف {crop} عدد p من الصفوف والأعمدة من كل "
            "جانب؛ وتُحذف من الصيغة كل عملية لا تغيّر شيئًا (stride 1 وpadding 0 وdilation 1)."
        ),
        "summary_uncovered": (
            "ولا تصل أي نافذة هنا إلى آخر r من صفوف المدخل بعد الـpadding وأعمدته: تحذفها {trim} منه، وتضع {extend} "
            "مكانها r من صفوف الأصفار وأعمدتها في أسفل ∂L/∂O وعلى يمينه، فيأتي ∂L/∂X بحجم المدخل."
        ),
        "compact": (
            "هذه الطبقة كبيرة ({n} عنصرًا في المدخل مع القنوات)، أكبر من أن تُقرأ مصفوفاتها كاملة. لذلك نكتب "
            "قاعدة الفهارس العامة، ونحسب بعض العناصر مثالًا، ونسرد كل صيغة مغلقة خطوات مرقمة؛ أما المصفوفات "
            "الكاملة فمطوية (تعرضها صفحة الـHTML خلف زر إظهار)."
        ),
        "index_rule": (
            "كل عنصر من عناصر O يتبع قاعدة فهارس واحدة (تبدأ الفهارس من 1، وقيمة X صفر خارج عناصره الـ{size}، "
            "أي في الـpadding):"
        ),
        "index_rule_groups": "حيث تمر c على قنوات المدخل الـ{n} في المجموعة التي تقرأ منها قناة المخرج o.",
        "worked": "وهذه بعض العناصر محسوبة مثالًا:",
        "details_inputs": "المصفوفات X وF وdL/dO كاملة",
        "details_closed_f": "الصيغة المغلقة للـgradient بالنسبة إلى الـfilter، مصفوفةً مصفوفة",
        "details_closed_x": "الصيغة المغلقة للـgradient بالنسبة إلى المدخل، مصفوفةً مصفوفة",
        "omitted": (
            "{summary}: لم تُكتب في هذه الصيغة ({n} من المعادلات)؛ تعرضها صفحة الـHTML خلف زر إظهار، ويحملها "
            "كائن الاشتقاق (convprop.explain.derive_conv) في Python."
        ),
        "steps_f": "خطوة خطوة، لحساب dL/dF:",
        "steps_x": "خطوة خطوة، لحساب dL/dX:",
        "step_insert": "نُدرج الأصفار في dL/dO، ‏{zeros}: {a} ← {b}.",
        "step_pad_x": "نحيط X بالأصفار كما في الـforward pass، ‏{zeros}: {a} ← {b}.",
        "step_drop": "نترك {what} من X بعد الـpadding، إذ لا تصل إليه أي نافذة: {a} ← {b}.",
        "step_corr_f": "نحسب الـcorrelation بين X بعد الـpadding وdL/dO بعد إدراج الأصفار: {a} ⊗ {b} ← {c}.",
        "step_subsample": "نُبقي صفًا واحدًا وعمودًا واحدًا من كل {d}: {a} ← {b}، وهو حجم الـfilter.",
        "step_pad_go": "نحيط dL/dO بالأصفار، ‏{zeros}: {a} ← {b}.",
        "step_pad_go_uncovered": (
            "نحيط dL/dO بالأصفار، ‏{zeros}، ونضيف {what} في الأسفل وعلى اليمين مقابل الجزء من المدخل الذي لم "
            "تصل إليه أي نافذة: {a} ← {b}."
        ),
        "step_filter": "نطبّق الـdilation ‏({d}) على الـfilter ثم ندوّره بزاوية 180°: {a} ← {b}.",
        "step_rotate": "ندوّر الـfilter بزاوية 180°: {a}.",
        "step_corr_x": "نحسب الـcorrelation بين dL/dO بعد الـpadding والـfilter المُدوَّر: {a} ⊗ {b} ← {c}.",
        "step_corr_x_channels": (
            "نحسب الـcorrelation بين dL/dO بعد الـpadding والـfilter المُدوَّر: {a} ⊗ {b} ← {c}، ونجمع هذه "
            "النتائج على قنوات المخرج التي تقرأ من كل قناة من قنوات المدخل."
        ),
        "step_crop": "نحذف الـpadding الخاص بالـforward pass، {what} من كل جانب: {a} ← {b}، وهو حجم المدخل.",
        "between_same": "{n} بين كل عنصرين متجاورين",
        "between_axes": "{r} بين صفوفه و{c} بين أعمدته",
        "around_same": "{n} من كل جانب",
        "around_axes": "{r} من الأعلى والأسفل و{c} من اليمين واليسار",
        "and": " و",
        "last_one": "آخر {noun}",
        "last_many": "آخر {count}",
        "title_conv": "الـbackpropagation في طبقة الـconvolution",
        "config_conv": (
            "المدخل {X} بحجم {size}، والـfilter {F} بحجم {ksize}، مع stride يساوي {stride} وpadding يساوي "
            "{padding} وdilation يساوي {dilation}، وعدد قنوات المدخل {cin} وعدد قنوات المخرج {cout} "
            "وعدد المجموعات (groups) {groups}. ويكون حجم المخرج {O} هو {osize}، إذ يُحسب كل بُعد بالعلاقة {formula}."
        ),
        "h_forward": "الـforward pass",
        "forward": (
            "تُحرّك الطبقة الـfilter فوق المدخل (بعد إحاطته بالأصفار إذا لم يكن الـpadding صفرًا)، وعند كل "
            "موضع تضرب العناصر المتقابلة ثم تجمع النواتج. وهذه عملية cross-correlation نكتبها هنا {corr} كما في "
            "المقال (وتكتبها مراجع كثيرة {star}):"
        ),
        "forward_entries": "وبكتابة كل عنصر على حدة:",
        "channels_note": (
            "وعند تعدد القنوات يدل الرقم العلوي على القناة: {Xc} هي قناة المدخل c، و{Oo} قناة المخرج o، و{Foc} "
            "شريحة الـfilter التي تطبّقها قناة المخرج o على قناة المدخل رقم c من قنواتها. وتجمع كل قناة مخرج نتائج "
            "الـcorrelation هذه على قنوات المدخل التي تقرأ منها."
        ),
        "groups_note": (
            "ومع الـgroups التي عددها {g} تُقسَم قنوات المدخل ({cin}) إلى {g} مجموعات متساوية عدد القنوات في كل منها "
            "{gi}، وتُقسَم قنوات المخرج ({cout}) كذلك وعدد القنوات في كل مجموعة منها {go}. ولا تقرأ قناة المخرج o إلا "
            "قنوات المدخل في مجموعتها، لذلك يُعدّ c في {Foc} داخل تلك المجموعة: فهي قناة المدخل رقم {which}."
        ),
        "h_why": "لماذا نحتاج إلى حساب الـlocal gradients؟",
        "why": (
            "يصل الـbackpropagation إلى هذه الطبقة ومعه {dO}، وهو الـloss gradient بالنسبة إلى مخرجها. ومنه "
            "تحسب الطبقة نوعين من الـgradients: {dF} لتحديث قيم الـfilter، و{dX} الذي يصبح الـloss gradient "
            "الخاص بالطبقة السابقة، فيستمر به الـbackpropagation في بقية الطبقات."
        ),
        "h_local_f": "الـlocal gradients بالنسبة إلى F",
        "local_f": "باشتقاق كل عنصر من عناصر O بالنسبة إلى عنصر واحد من الـfilter نحصل على مصفوفة بحجم O:",
        "h_chain": "كيف نطبّق الـchain rule على المصفوفات؟",
        "chain": (
            "نحسب الـloss gradient لكل عنصر على حدة، وهو الـFrobenius inner product (أي مجموع حواصل ضرب العناصر "
            "المتقابلة) بين {dO} والـlocal gradient الخاص بهذا العنصر:"
        ),
        "chain_sub": "وبالتعويض عن الـlocal gradients التي حسبناها:",
        "h_closed_f": "الـgradient بالنسبة إلى الـfilter عملية convolution",
        "closed_f": (
            "هذه هي مجاميع النافذة المنزلقة نفسها التي رأيناها في الـforward pass، مع وضع {dO} في مكان الـfilter. "
            "أي أن طبقة الـconvolution تطبّق عملية الـconvolution في الـforward pass لحساب الـfeature map، وفي "
            "الـbackward pass لحساب الـgradients."
        ),
        "closed_f_stride": (
            "لأن الـstride يساوي {s}، جاءت عناصر المخرج المتجاورة من نوافذ يفصل بينها {s}، لذلك ينزلق {dO} "
            "على X بعد إدراج {zeros}، أي يتحول الـstride إلى dilation."
        ),
        "closed_f_padding": "ويُحاط X بالأصفار ({zeros})، تمامًا كما في الـforward pass.",
        "closed_f_dilation": (
            "ولأن الـdilation يساوي {d}، تتباعد عناصر الـfilter على المدخل بمقدار {d}، فلا يكون gradient للـfilter "
            "إلا عنصرٌ واحد من كل {d} من عناصر هذه الـcorrelation: تُبقي {sub} الصفوف والأعمدة 1 و1 + {d} "
            "و1 + 2·{d} … منها (أي تتحرك النافذة بخطوة قدرها {d})، فنحصل على حجم الـfilter."
        ),
        "uncovered": (
            "لا تصل أي نافذة إلى {what} من المدخل بعد الـpadding، فلا تشارك هذه العناصر في المخرج ويكون "
            "الـgradient الخاص بها صفرًا."
        ),
        "uncovered_unpadded": (
            "لا تصل أي نافذة إلى {what} من X، فلا تشارك هذه العناصر في المخرج ويكون الـgradient الخاص بها صفرًا."
        ),
        "h_local_x": "الـlocal gradients بالنسبة إلى X",
        "local_x": "وبالطريقة نفسها نشتق بالنسبة إلى عناصر المدخل (نعرض {n} منها، والباقي على النمط نفسه):",
        "chain_x_rule": (
            "والـchain rule هو الـFrobenius inner product نفسه، مع الـlocal gradients الخاصة بـX هذه المرة:"
        ),
        "chain_x": "ثم نطبّق الـchain rule فنحصل على النتائج التالية:",
        "h_corr": "الـConvolution مقابل الـCross-correlation",
        "corr": (
            "على الرغم من أن الـconvolutional neural networks تحمل في اسمها كلمة convolution، فإن العملية الرياضية "
            "التي تجري فيها هي في الحقيقة cross-correlation: نحرّك الـfilter على المدخل كما هو، ونضرب العناصر "
            "المتقابلة ونجمع النواتج. أما الـconvolution بمعناها الرياضي فتدوّر الـfilter بزاوية 180 درجة قبل "
            "تحريكه. ومعادلات {dX} هي convolution بهذا المعنى، ولذلك يظهر فيها الـfilter مُدوَّرًا:"
        ),
        "h_closed_x": "الـgradient بالنسبة إلى المدخل عملية full convolution",
        "closed_x": (
            "نحصل على {dX} بعملية full convolution بين {dO} والـfilter: نحيط {dO} بالأصفار ({zeros}) "
            "حتى يُحتسب كل موضع للـfilter يلمس المدخل، ثم نحرّك الـfilter المُدوَّر فوقه."
        ),
        "closed_x_stride": "وبسبب الـstride الذي يساوي {s}، نُدرج أولًا في {dO} {zeros}.",
        "closed_x_uncovered": (
            "والأصفار المضافة في الأسفل وعلى اليمين ({what}) تقابل الجزء من المدخل الذي لم تصل إليه أي نافذة."
        ),
        "closed_x_dilation": (
            "ولأن الـdilation يساوي {d}، تتباعد عناصر الـfilter المُدوَّر بمقدار {d} أيضًا: فالذي ينزلق فوق {dO} "
            "بعد الـpadding هو الـfilter بعد الـdilation ‏{dil} ثم التدوير."
        ),
        "closed_x_crop": (
            "تغطي النتيجة الكاملة المدخل بعد الـpadding، فنحذف {what} من كل جانب (الـcrop) لنحصل على {dX}:"
        ),
        "closed_x_channels": (
            "وعند تعدد القنوات، يجمع الـgradient الخاص بكل قناة من قنوات المدخل إسهامات جميع قنوات المخرج التي "
            "تقرأ منها، أي يتبادل محورا الـfilter الخاصان بقنوات الدخل والخرج موضعيهما."
        ),
        "h_transposed": "الـgradient بالنسبة إلى المدخل عملية transposed convolution",
        "transposed": (
            "النتيجة نفسها هي transposed convolution بين {dO} والـfilter نفسه دون تدوير؛ ولهذا تُستخدم "
            "الـtransposed convolution في الـupsampling، فهي الـbackward pass لعملية الـconvolution."
        ),
        "h_proof": "برهان يتحقق منه الحاسوب",
        "proof_ok": (
            "فكّت SymPy الأقواس (expand) في الطرفين، أي ناتج الـchain rule والصيغة المغلقة، لكل عنصر من "
            "عناصر dL/dF البالغ عددها {nf} ومن عناصر dL/dX البالغ عددها {nx}، فكان الفرق صفرًا في كل عنصر. "
            "تم التحقق (verified)."
        ),
        "proof_pool_ok": (
            "فكّت SymPy الأقواس (expand) في الطرفين، أي ناتج الـchain rule والتوزيع المباشر للـgradient، "
            "لكل عنصر من عناصر dL/dA البالغ عددها {n}، فكان الفرق صفرًا في كل عنصر. تم التحقق (verified)."
        ),
        "proof_fail": "فكّت SymPy الأقواس في الطرفين فوجدت عناصر مختلفة ({which}). لم يتم التحقق (NOT verified).",
        "h_numeric": "تحقق عددي",
        "numeric": (
            "عوّضنا بقيم عشوائية (seed = {seed}) في المعادلات، ومررنا القيم نفسها عبر الـautograd في convprop، "
            "وقدّرنا كل عنصر من عناصر الـgradient بالفروق المحدودة المركزية (finite differences) بخطوة {eps}. "
            "أكبر فرق مطلق بين كل طريقتين:"
        ),
        "numeric_only": (
            "هذا الإعداد أكبر من أن يُقرأ رمزيًا، لذلك نحسب الصيغ المغلقة على أعداد عشوائية (seed = {seed}) "
            "ونقارنها بالـautograd في convprop وبالفروق المحدودة المركزية (بخطوة {eps}، على عينة من العناصر). "
            "أكبر فرق مطلق بين كل طريقتين:"
        ),
        "numeric_ok": "جميع الطرق متفقة (أكبر فرق {err}).",
        "numeric_fail": "يوجد اختلاف يتجاوز حد التسامح (أكبر فرق {err}).",
        "numeric_ties": (
            "لم نستخدم الفروق المحدودة هنا، لأن في المدخل قيمًا عظمى متساوية، وعندها لا تكون دالة max قابلة للاشتقاق."
        ),
        "col_grad": "الـgradient",
        "col_compared": "المقارنة",
        "col_error": "أكبر فرق مطلق",
        "vs": "مقابل",
        "m_symbolic": "الحل الرمزي",
        "m_autograd": "الـautograd",
        "m_finite differences": "الفروق المحدودة",
        "m_closed form": "الصيغة المغلقة",
        "m_transposed conv": "الـtransposed convolution",
        "m_PyTorch": "PyTorch",
        "h_summary": "الخلاصة",
        "summary": "إذًا يمكن تلخيص الـbackpropagation في طبقة الـconvolution في عمليتين:",
        "more": "… والمعادلات الباقية ({n}) على النمط نفسه.",
        "h_animations": "رسوم متحركة",
        "anim_forward": "الـforward pass: ينزلق الـfilter فوق المدخل.",
        "anim_grad_f": "dL/dF: ينزلق dL/dO فوق المدخل X.",
        "anim_grad_x": (
            "dL/dX: ينزلق الـfilter المُدوَّر فوق dL/dO بعد الـpadding (full convolution)، ثم الـcrop: تُحذف "
            "الخلايا الرمادية (الـpadding في الـforward pass إن وُجد)، ويُكتب تحت كل خلية باقية رقمُها في X."
        ),
        "anim_pool": "الـbackward pass في طبقة الـpooling: إلى أين يذهب الـgradient الخاص بكل نافذة.",
        "f_padded": "dL/dO بعد الـpadding",
        "f_cropped": "محذوفة (padding)",
        "f_max": "{g}: يذهب إلى {a} (القيمة العظمى {v})، وتتلقى البقية 0",
        "f_avg": "{g}: يتلقى كل عنصر من عناصر النافذة ({n}) المقدار {share}",
        "title_numeric_conv": "تحقق عددي من الـbackward pass في طبقة الـconvolution",
        "title_numeric_pool": "تحقق عددي من الـbackward pass في طبقة الـpooling",
        "title_pool_max": "الـbackpropagation في طبقة max pooling",
        "title_pool_avg": "الـbackpropagation في طبقة average pooling",
        "pool_intro": (
            "لا تحتوي طبقات الـpooling على learnable parameters، لكن كما أن لها دورًا في الـforward pass فلها "
            "دور أيضًا في الـbackward pass أثناء حساب الـgradients. ليكن المدخل هو المصفوفة A بحجم {size}، "
            "والمخرج هو المصفوفة B بحجم {osize}، مع نافذة بحجم {ksize} وstride يساوي {stride} وpadding يساوي "
            "{padding}:"
        ),
        "pool_forward": "كل عنصر من عناصر المخرج هو ناتج الـpooling لنافذة واحدة من المدخل:",
        "pool_grad_out": "أثناء الـbackpropagation يصلنا {dB}، ومنه نحسب {dA} لنمرّره إلى الطبقة السابقة:",
        "pool_max": (
            "في الـmax pooling يمر عنصر واحد فقط من كل نافذة إلى الطبقة التالية، وهو القيمة العظمى، ولذلك فهو "
            "العنصر الوحيد الذي أسهم في الـerror والوحيد الذي يتلقى الـgradient الخاص بالنافذة، أما بقية العناصر "
            "فتتلقى صفرًا. فالـlocal gradient للنافذة يساوي 1 عند موضع القيمة العظمى و0 في غيره."
        ),
        "pool_ties": (
            "إذا تكررت القيمة العظمى في نافذة ما، يتلقى الـgradient أولُها بترتيب الصفوف (row-major)، كما في PyTorch."
        ),
        "pool_ties_here": "وفي هذا المدخل قيم عظمى متساوية في نافذة {which}.",
        "pool_ties_here_many": "وفي هذا المدخل قيم عظمى متساوية في نوافذ {which}.",
        "pool_chosen": (
            "اخترنا هنا موضع القيمة العظمى في كل نافذة بدلًا من استخراجه من قيم المدخل، فالنتيجة صحيحة لكل مدخل "
            "تقع القيمة العظمى الأولى في كل نافذة من نوافذه في تلك المواضع."
        ),
        "pool_overlap": (
            "تتداخل النوافذ هنا (الـstride {s} أصغر من حجم النافذة {k})، فالعنصر الذي يقع في أكثر من نافذة "
            "يتلقى مجموع الـgradients القادمة منها."
        ),
        "pool_avg": (
            "أما في الـaverage pooling فيسهم كل عنصر في النافذة في الناتج بالقدر نفسه، ولذلك يتوزع الـgradient "
            "عليها بالتساوي: يتلقى كل عنصر الـgradient الخاص بالنافذة مقسومًا على قاسمها (divisor)."
        ),
        "pool_avg_incl": "تُحتسب أصفار الـpadding ضمن القاسم (count_include_pad=True)، فتُقسم كل نافذة على {div}.",
        "pool_avg_excl": (
            "لا تُحتسب أصفار الـpadding ضمن القاسم (count_include_pad=False)، فتُقسم النافذة التي تتقاطع "
            "مع الـpadding على عدد العناصر الحقيقية التي تغطيها فقط."
        ),
        "pool_local": "والـlocal gradients مصفوفة بحجم B لكل عنصر من عناصر المدخل (نعرض {n} منها):",
        "pool_chain": "وبالـchain rule، كما في طبقة الـconvolution:",
        "pool_result": "فتكون النتيجة:",
        "title_transposed": "الـbackpropagation عبر طبقة transposed convolution",
        "config_transposed": (
            "المدخل {X} بحجم {size}، والـfilter {F} بحجم {ksize}، والـstride {stride}، والـpadding {padding}، "
            "والـoutput_padding {op}، والـdilation {dilation}، و{cin} قناة دخل و{cout} قناة خرج، والـgroups {groups}. "
            "حجم الناتج {O} هو {osize}: كل بُعد منه يساوي {formula}."
        ),
        "h_t_forward": "الـforward pass: الـbackward pass لطبقة convolution يجري إلى الأمام",
        "t_scatter": (
            "كل عنصر من {X} ينثر نسخة من الـfilter مضروبة فيه داخل الناتج؛ تبدأ النسخ على بعد {s} خلية بعضها من "
            "بعض، وتُجمع حيث تتداخل، ثم يُقص الـpadding من الأطراف. وبكتابة الناتج عنصرًا عنصرًا:"
        ),
        "t_full": (
            "وهذا بالضبط الـfull convolution الذي يعطي الـgradient بالنسبة لمدخل طبقة الـconvolution، {dX}: نُدرج "
            "أصفار الـstride بين عناصر {X} ونحشوه، ثم نحسب الـcorrelation مع الـfilter المدوَّر، ثم نقص الـpadding:"
        ),
        "h_t_grad_x": "الـgradient بالنسبة للمدخل convolution عادي",
        "t_grad_x": (
            "بالـchain rule، الـgradient لكل عنصر من المدخل هو الـFrobenius inner product بين {dO} والـlocal gradient "
            "لذلك العنصر. وعنصر X لم يصل إلا إلى خلايا الناتج التي غطّتها نسخة الـfilter الخاصة به، فيجمع "
            "الـgradient الخاص به {dO} على تلك النافذة مضروبًا في الـfilter: أي الـforward pass لطبقة convolution "
            "بالـstride والـpadding والـdilation أنفسها، مطبَّقًا على {dO}."
        ),
        "h_t_grad_f": "الـgradient بالنسبة للـfilter",
        "t_grad_f_dilation": " ومع dilation قيمته {d} نُبقي من النتيجة الصفوف والأعمدة 1 و1 + {d} … فقط.",
        "t_grad_f": (
            "التقى كل عنصر من الـfilter بكل عنصر من {X} مرة واحدة، في خلية الناتج التي وضعته فيها نسخته؛ لذلك "
            "يحسب الـgradient بالنسبة للـfilter الـcorrelation بين {dO} (محشوًّا كما في الـforward pass) و{X} الذي "
            "تفصل بين عناصره الآن {s} خلية (بعد إدراج أصفار الـstride).{dilation}"
        ),
        "proof_t_ok": (
            "وسّعت SymPy طرفي المعادلات الثلاث: عناصر O الـ{no} مقابل الـfull convolution، وعناصر dL/dX الـ{nx} مقابل "
            "الـconvolution لـdL/dO، وعناصر dL/dF الـ{nf} مقابل الـcorrelation مع X: كل فرق يساوي 0. تم التحقق."
        ),
        "summary_t": (
            "الـtransposed convolution والـconvolution يتبادلان الأدوار: الـforward pass لأحدهما هو الـgradient "
            "بالنسبة لمدخل الآخر."
        ),
        "pool_ceil": (
            "مع ceil_mode=True يُقرَّب حجم الناتج إلى الأعلى، فقد تتجاوز النافذة الأخيرة حافة المدخل، ولا يُحتسب "
            "منها إلا جزؤها الواقع داخل المدخل (مع الـpadding)."
        ),
        "pool_ceil_same": (
            "مع ceil_mode=True يُقرَّب حجم الناتج إلى الأعلى، لكن النوافذ تنطبق على هذا المدخل تمامًا، فلا يغيّر "
            "التقريب شيئًا."
        ),
        "verified": "تم التحقق",
        "not_verified": "لم يتم التحقق",
    },
}


#: Nouns that are counted in the prose. English: (singular, plural). Arabic: (bare singular, one, two, two after
#: a preposition or noun, 3-10, 11 and more, one as an object); Arabic counts agree with the number, as English
#: plurals do, and take the accusative as the object of a verb ("نحذف صفًّا واحدًا").
NOUNS = {
    "en": {
        "zero": ("zero", "zeros"),
        "row": ("row", "rows"),
        "column": ("column", "columns"),
        "input channel": ("input channel", "input channels"),
        "output channel": ("output channel", "output channels"),
    },
    "ar": {
        "zero": ("صفر", "صفر واحد", "صفران", "صفرين", "أصفار", "صفرًا", "صفرًا واحدًا"),
        "row": ("صف", "صف واحد", "صفان", "صفين", "صفوف", "صفًا", "صفًّا واحدًا"),
        "column": ("عمود", "عمود واحد", "عمودان", "عمودين", "أعمدة", "عمودًا", "عمودًا واحدًا"),
        "input channel": (
            "قناة مدخل",
            "قناة مدخل واحدة",
            "قناتا مدخل",
            "قناتي مدخل",
            "قنوات مدخل",
            "قناة مدخل",
            "قناة مدخل واحدة",
        ),
        "output channel": (
            "قناة مخرج",
            "قناة مخرج واحدة",
            "قناتا مخرج",
            "قناتي مخرج",
            "قنوات مخرج",
            "قناة مخرج",
            "قناة مخرج واحدة",
        ),
    },
}


def count(lang: str, n: int, noun: str, after: bool = False, obj: bool = False) -> str:
    """``n`` of ``noun`` in ``lang``: "1 zero", "2 zeros"; Arabic "صفر واحد", "صفران" (``after`` a word: "صفرين";
    ``obj``, the object of a verb: "صفرًا واحدًا", "صفرين")."""
    forms = NOUNS[lang][noun]
    if lang == "en":
        return f"{n} {forms[0] if n == 1 else forms[1]}"
    _, one, two, two_after, few, many, one_obj = forms
    if n == 0:
        return f"لا {few}"
    if n in (1, 2):
        return (one_obj if obj else one) if n == 1 else (two_after if after or obj else two)
    return f"{n} {few if n <= 10 else many}"


def per_axis(lang: str, pair: tuple[int, ...], noun: str, where: str, obj: bool = False) -> str:
    """A count per axis, once when both axes agree (or there is one, conv1d's): "1 zero on each side", "1 zero
    above and below, 0 zeros left and right"; ``where`` is "between" or "around"; ``obj`` as in :func:`count`."""
    if len(set(pair)) == 1:
        return text(lang, f"{where}_same").format(n=count(lang, pair[0], noun, obj=obj))
    r, c = (count(lang, n, noun, obj=obj) for n in pair)
    return text(lang, f"{where}_axes").format(r=r, c=c)


def last_lines(lang: str, *counts: int) -> str:
    """The last rows and/or columns: "the last row", "the last 2 rows and the last column" (one count: columns)."""
    rows, columns = (0, *counts) if len(counts) == 1 else counts
    parts = []
    for n, noun in ((rows, "row"), (columns, "column")):
        if n == 1:
            parts.append(text(lang, "last_one").format(noun=NOUNS[lang][noun][0]))
        elif n > 1:
            parts.append(text(lang, "last_many").format(count=count(lang, n, noun, after=True)))
    return text(lang, "and").join(parts)


def lines(lang: str, *counts: int, obj: bool = False) -> str:
    """Rows and columns counted: "1 row and 1 column", "2 rows and 0 columns"; one count: columns (conv1d);
    ``obj`` as in :func:`count`."""
    nouns = ("column",) if len(counts) == 1 else ("row", "column")
    return text(lang, "and").join(count(lang, n, noun, obj=obj) for n, noun in zip(counts, nouns, strict=True))


#: A gradient's name written as text (∂L/∂O, ∂L/∂X₁₂, ∂L/∂F(1,2)). It opens with ∂, a neutral character, which
#: right-to-left prose would move to the far end of the name ("L/∂O∂") unless the name is isolated.
_GRADIENT_NAME = re.compile(r"∂L/∂[A-Za-z]+[₀-₉]*(?:\(\d+(?:,\d+)*\))?")


def isolate_ltr(s: str) -> str:
    """``s`` with every gradient name between LEFT-TO-RIGHT ISOLATE and POP DIRECTIONAL ISOLATE, so that it reads
    left to right inside Arabic prose (HTML and the page's script; LaTeX orders its runs itself)."""
    return _GRADIENT_NAME.sub(lambda m: "\u2066" + m.group() + "\u2069", s)


def text(lang: str, key: str) -> str:
    """The string ``key`` in ``lang``."""
    if lang not in STRINGS:
        raise ValueError(f"language must be one of {LANGUAGES}, got {lang!r}")
    return STRINGS[lang][key]


#: The interactive page's controls, legends and captions (``render.to_html``, ``assets/lesson.js``).
PAGE = {
    "en": {
        "show_matrices": "Show the full matrices",
        "nojs": "This figure is interactive and needs JavaScript; the equations around it are complete without it.",
        "widget_forward": (
            "Try it: the filter slides over the input, and each position writes one entry of O. Step through the "
            "positions, hover any entry of O, or type your own numbers into X and F."
        ),
        "widget_grad_f": (
            "Try it: ∂L/∂O, with the stride's zeros inserted, slides over X, and each position writes one entry of "
            "∂L/∂F. Hover an entry of ∂L/∂F to see the products it adds up."
        ),
        "widget_grad_x": (
            "Try it: the rotated filter slides over the padded ∂L/∂O (the full convolution), each position writes "
            "one cell of the full result, and the crop keeps ∂L/∂X. Hover an entry of ∂L/∂X to see where its "
            "terms come from."
        ),
        "widget_pool": (
            "Try it: each window sends its result forward and its gradient back. Type new values into A or ∂L/∂B "
            "and watch the routing change."
        ),
        "widget_t_forward": (
            "Try it: X, with the stride's zeros inserted and padded, under the rotated filter: each position writes "
            "one cell of the full result, and the crop keeps O. Hover an entry of O to see the products it adds up."
        ),
        "widget_t_grad_x": (
            "Try it: the filter slides over the padded ∂L/∂O, s cells at a time, and each position writes one entry "
            "of ∂L/∂X: an ordinary convolution."
        ),
        "widget_t_grad_f": (
            "Try it: X, with the stride's zeros inserted, slides over the padded ∂L/∂O, and each position writes "
            "one entry of ∂L/∂F."
        ),
        "prev": "Previous",
        "next": "Next",
        "play": "▶ Play",
        "pause": "❚❚ Pause",
        "prev_label": "previous position",
        "next_label": "next position",
        "play_label": "play or pause the steps",
        "slider_label": "position of the window",
        "position": "position {k} of {n}",
        "zero_pad": "a zero of the padding",
        "zero_inserted": "a zero inserted by the stride",
        "zero_hole": "a gap of the dilated filter",
        "legend_pad": "padding zero",
        "legend_inserted": "zero inserted by the stride",
        "legend_hole": "gap of the dilation",
        "legend_cropped": "cropped (forward padding)",
        "cropped": "(cropped: this cell lies in the forward padding)",
        "cropped_cell": "cropped cell",
        "inserted_products": "(+ {n} products with inserted zeros, each 0)",
        "no_window_max": "(the maximum of no window)",
        "no_window": "(in no window)",
        "each_gets": "each of its {n} entries receives",
        "each_gets_one": "its one entry receives",
        "invalid": "{name}: “{text}” is not a number; the results still use {value}.",
        "help_conv": (
            "Hover or focus a result cell to light up the cells its sum adds up and to see its equation; hover a "
            "term of the equation to light up its two factors. Arrow keys step, Home and End jump."
        ),
        "help_pool": (
            "Hover or focus an entry of B or ∂L/∂A to light up the entries it comes from. Arrow keys step, Home "
            "and End jump."
        ),
    },
    "ar": {
        "show_matrices": "اعرض المصفوفات كاملة",
        "nojs": "هذا الشكل تفاعلي ويحتاج إلى JavaScript، والمعادلات المحيطة به كاملة من دونه.",
        "widget_forward": (
            "جرّب بنفسك: ينزلق الـfilter فوق المدخل، وكل موضع يكتب عنصرًا واحدًا من O. تنقّل بين المواضع، أو مرّر "
            "المؤشر فوق أي عنصر من O، أو اكتب أرقامك في X وF."
        ),
        "widget_grad_f": (
            "جرّب بنفسك: ينزلق ∂L/∂O، بعد إدراج أصفار الـstride، فوق X، وكل موضع يكتب عنصرًا من ∂L/∂F. مرّر "
            "المؤشر فوق عنصر من ∂L/∂F لترى حواصل الضرب التي يجمعها."
        ),
        "widget_grad_x": (
            "جرّب بنفسك: ينزلق الـfilter المدوَّر فوق ∂L/∂O المحشوّ (الـfull convolution)، وكل موضع يكتب خلية من "
            "النتيجة الكاملة، ثم يُبقي القصّ (crop) على ∂L/∂X. مرّر المؤشر فوق عنصر من ∂L/∂X لترى مصدر حدوده."
        ),
        "widget_pool": (
            "جرّب بنفسك: كل نافذة ترسل نتيجتها إلى الأمام والـgradient الخاص بها إلى الخلف. اكتب قيمًا جديدة في A "
            "أو ∂L/∂B وراقب تغيّر التوجيه."
        ),
        "widget_t_forward": (
            "جرّب بنفسك: X بعد إدراج أصفار الـstride وحشوه، تحت الـfilter المدوَّر: كل موضع يكتب خلية من النتيجة "
            "الكاملة، ثم يُبقي القص على O. مرّر المؤشر فوق عنصر من O لترى حواصل الضرب التي يجمعها."
        ),
        "widget_t_grad_x": (
            "جرّب بنفسك: ينزلق الـfilter فوق ∂L/∂O المحشوّ، s خلية في كل مرة، وكل موضع يكتب عنصرًا من ∂L/∂X: "
            "convolution عادي."
        ),
        "widget_t_grad_f": (
            "جرّب بنفسك: ينزلق X، بعد إدراج أصفار الـstride، فوق ∂L/∂O المحشوّ، وكل موضع يكتب عنصرًا من ∂L/∂F."
        ),
        "prev": "السابق",
        "next": "التالي",
        "play": "▶ تشغيل",
        "pause": "❚❚ إيقاف مؤقت",
        "prev_label": "الموضع السابق",
        "next_label": "الموضع التالي",
        "play_label": "تشغيل الخطوات أو إيقافها",
        "slider_label": "موضع النافذة",
        "position": "الموضع {k} من {n}",
        "zero_pad": "صفر من الـpadding",
        "zero_inserted": "صفر أدرجه الـstride",
        "zero_hole": "فجوة في الـfilter الممدَّد (dilation)",
        "legend_pad": "صفر الـpadding",
        "legend_inserted": "صفر أدرجه الـstride",
        "legend_hole": "فجوة الـdilation",
        "legend_cropped": "مقصوص (padding الأمامي)",
        "cropped": "(مقصوصة: تقع هذه الخلية في الـpadding الأمامي)",
        "cropped_cell": "خلية مقصوصة",
        "inserted_products": "(و{n} حاصل ضرب بأصفار مُدرَجة، كلٌّ منها 0)",
        "no_window_max": "(ليس القيمة العظمى لأي نافذة)",
        "no_window": "(لا تغطيه أي نافذة)",
        "each_gets": "كل عنصر من عناصرها الـ{n} يتلقى",
        "each_gets_one": "يتلقى عنصرها الوحيد",
        "invalid": "{name}: «{text}» ليس عددًا، وما زالت النتائج تستخدم {value}.",
        "help_conv": (
            "مرّر المؤشر فوق خلية ناتجة أو انتقل إليها بلوحة المفاتيح لتضيء الخلايا التي يجمعها مجموعها وتظهر "
            "معادلتها؛ ومرّر فوق حدّ من المعادلة ليضيء عاملاه. مفاتيح الأسهم تتنقل خطوة خطوة، وHome وEnd إلى الطرفين."
        ),
        "help_pool": (
            "مرّر المؤشر فوق عنصر من B أو ∂L/∂A، أو انتقل إليه بلوحة المفاتيح، لتضيء العناصر التي جاء منها. مفاتيح "
            "الأسهم تتنقل خطوة خطوة، وHome وEnd إلى الطرفين."
        ),
    },
}


#: The gallery (``gallery.py``): page titles by slug, the index and the picker.
GALLERY = {
    "en": {
        "title": "convprop: backpropagation through conv and pooling layers, step by step",
        "intro": (
            "Each page derives one layer's backward pass, proves it entry by entry, checks it numerically, and "
            "lets you step through, hover and edit every figure."
        ),
        "picker": "Lessons",
        "index": "All lessons",
        "other_language": "العربية",
        "conv-article": "Conv: the article's example (3×3 input, 2×2 filter)",
        "conv-stride2": "Conv: stride 2",
        "conv-padding": "Conv: padding 1",
        "conv-stride2-padding1": "Conv: stride 2 and padding 1",
        "conv-dilation": "Conv: dilation 2",
        "conv-groups": "Conv: 2 channels in 2 groups",
        "conv-asymmetric": "Conv: asymmetric kernel, stride and padding",
        "conv1d": "Conv1d",
        "conv-transpose": "Transposed convolution",
        "maxpool-ties": "Max pooling with ties",
        "maxpool-overlap": "Max pooling with overlapping windows",
        "avgpool-exclude-pad": "Average pooling, padding not counted",
        "avgpool-ceil": "Average pooling with ceil_mode",
    },
    "ar": {
        "title": "convprop: الـbackpropagation عبر طبقات الـconvolution والـpooling خطوة خطوة",
        "intro": (
            "كل صفحة تشتق الـbackward pass لطبقة واحدة، وتبرهنه عنصرًا عنصرًا، وتتحقق منه عدديًا، وتتيح لك التنقل "
            "في كل شكل والتمرير فوقه وتعديله."
        ),
        "picker": "الدروس",
        "index": "كل الدروس",
        "other_language": "English",
        "conv-article": "Conv: مثال المقال (مدخل 3×3 وfilter بحجم 2×2)",
        "conv-stride2": "Conv: stride 2",
        "conv-padding": "Conv: padding 1",
        "conv-stride2-padding1": "Conv: stride 2 وpadding 1",
        "conv-dilation": "Conv: dilation 2",
        "conv-groups": "Conv: قناتان في مجموعتين (groups)",
        "conv-asymmetric": "Conv: kernel وstride وpadding غير متناظرة",
        "conv1d": "Conv1d",
        "conv-transpose": "الـtransposed convolution",
        "maxpool-ties": "Max pooling مع قيم عظمى متساوية",
        "maxpool-overlap": "Max pooling بنوافذ متداخلة",
        "avgpool-exclude-pad": "Average pooling لا يُحتسب فيه الـpadding",
        "avgpool-ceil": "Average pooling مع ceil_mode",
    },
}
