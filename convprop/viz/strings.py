"""Every prose string of the model lesson (`convprop explain model`), per language, in one place.

Fields in braces are filled in by ``model_page.py``; formulas are fields too, so that an
Arabic page can set them left to right. Arabic follows the explainer's layer
lessons: Modern Standard Arabic prose with the technical terms kept in Latin script. The
gradient check's success line contains the word "verified" in both languages (the page's
testing contract); its failure line never does.
"""

from __future__ import annotations

LANGUAGES = ("en", "ar")
DIRECTION = {"en": "ltr", "ar": "rtl"}

STRINGS = {
    "en": {
        "title": "The backward pass of {model}",
        "intro": (
            "{model} takes inputs of shape {shape}. It has {params} parameters and makes {macs} multiply-accumulates "
            "per sample (counted for convolution, transposed convolution and linear layers; FLOPs ≈ 2 × MACs)."
        ),
        "h_layers": "The layers",
        "columns": ("layer", "type", "output shape", "parameters", "MACs", "lesson"),
        "lesson": "derivation",
        "h_graph": "The autograd graph",
        "graph": (
            "One box per operation the forward pass recorded, with its backward formula, output shape and dtype; "
            "parameters in blue; the operations of each module are framed and labelled with its name. The numbers "
            "on the arrows are the norms of the gradients that flowed back along them for one batch of {batch} "
            "random inputs in float64, coloured from the smallest (blue) to the largest (red)."
        ),
        "h_backward": "The backward pass, layer by layer",
        "backward": (
            "Backpropagation starts at the loss with {start} and visits the layers in reverse order. Each layer "
            "receives the gradient of the loss with respect to its output and multiplies it by its local gradients "
            "(its formula below). From it, a layer with parameters computes two gradients: one for each parameter, "
            "with which the optimizer updates the layer ({update}), and one for its input, which it passes "
            "back to the layer before."
        ),
        "prev": "← previous",
        "next": "next →",
        "counter": "step {i} of {n}",
        "loss": "the loss",
        "loss_ce": (
            "The loss is the cross-entropy of the model's scores z (one row per sample) with random target classes "
            "y, L = −(1/N) Σₙ log softmax(zₙ)[yₙ], built from the operations below. Their backward passes together "
            "give ∂L/∂z = (softmax(z) − onehot(y)) / N: each score's probability, minus 1 at the target class."
        ),
        "loss_sum": (
            "The model's output y is not a row of class scores, so the loss is L = Σ y ⊙ G with a random G of the "
            "same shape: its gradient ∂L/∂y is G itself."
        ),
        "input": "the input",
        "receives": "receives {grad}, the gradient of the loss with respect to its output: shape {shape}, norm {norm}",
        "computes_param": "computes {grad} (shape {shape}, norm {norm}): the optimizer updates {name} with it",
        "computes_input": "computes {grad} (shape {shape}, norm {norm}) and passes it back to {to}",
        "no_input_grad": "its input (the data) needs no gradient: backpropagation ends here",
        "see_lesson": "The derivation of this layer's gradients, step by step:",
        "lesson_conv": (
            "This derivation is the one of {layers} in {model}: the same kernel, stride, padding, dilation and "
            "groups, on a {size} input with one channel per group, so that every equation can be written out. "
            "Every pair of an input and an output channel of the layer follows these equations."
        ),
        "lesson_pool": (
            "This derivation is the one of {layers} in {model}: the same window, stride and padding, on a {size} "
            "input. Pooling treats every channel on its own, with these equations."
        ),
        "lesson_back": "Back to the backward pass of {model}",
        "lesson_nav": "The model",
        "channels": "{cin} → {cout} channels",
        "h_check": "Gradient check",
        "check": (
            "The whole network in float64 on a batch of {batch} random inputs: for each parameter P, the backward "
            "pass's {dot} along a random unit direction V against the central difference "
            "{difference} with ε = {eps}. A check passes when the two agree to a relative {rtol}."
        ),
        "check_columns": ("parameter", "shape", "backward pass", "central difference", "result"),
        "agrees": "agrees",
        "disagrees": "DISAGREES",
        "check_ok": "All {n} parameters verified: the backward pass of this network is correct.",
        "check_bad": "Check failed for {names}: the backward pass disagrees with the central differences.",
    },
    "ar": {
        "title": "الانتشار العكسي في {model}",
        "intro": (
            "يستقبل {model} مدخلات بالشكل {shape}. له {params} معاملًا، ويُجري {macs} عملية ضرب وجمع (MACs) لكل "
            "عينة (تُحسب لطبقات الالتفاف والالتفاف المنقول والطبقات الخطية؛ FLOPs ≈ 2 × MACs)."
        ),
        "h_layers": "الطبقات",
        "columns": ("الطبقة", "النوع", "شكل المخرج", "المعاملات", "MACs", "الدرس"),
        "lesson": "الاشتقاق",
        "h_graph": "رسم autograd البياني",
        "graph": (
            "صندوق لكل عملية سجّلها الانتشار الأمامي، مع صيغة انتشارها العكسي وشكل مخرجها ونوع بياناته؛ المعاملات "
            "بالأزرق؛ وعمليات كل وحدة (module) داخل إطار يحمل اسمها. الأعداد على الأسهم معايير (norms) التدرجات "
            "التي عادت عبرها لدفعة من {batch} مدخلات عشوائية بدقة float64، ملوّنة من الأصغر (أزرق) إلى الأكبر (أحمر)."
        ),
        "h_backward": "الانتشار العكسي طبقةً طبقة",
        "backward": (
            "يبدأ الانتشار العكسي عند دالة الخسارة بـ {start} ويمر على الطبقات بترتيب معكوس. تستقبل كل طبقة "
            "تدرج الخسارة بالنسبة إلى مخرجها وتضربه في تدرجاتها المحلية (صيغتها أدناه). ومنه تحسب الطبقة ذات "
            "المعاملات تدرجين: تدرجًا لكل معامل يحدّث به المُحسِّن (optimizer) الطبقة ({update})، وتدرجًا "
            "لمدخلها تمرره إلى الطبقة السابقة."
        ),
        "prev": "→ السابق",
        "next": "التالي ←",
        "counter": "الخطوة {i} من {n}",
        "loss": "دالة الخسارة",
        "loss_ce": (
            "دالة الخسارة هي الـcross-entropy بين درجات النموذج z (صف لكل عينة) وأصناف هدف عشوائية y، أي "
            "‎L = −(1/N) Σₙ log softmax(zₙ)[yₙ]‎، وتبنيها العمليات أدناه. ومعًا تعطي مراحلها العكسية "
            "‎∂L/∂z = (softmax(z) − onehot(y)) / N‎: احتمال كل صنف، مطروحًا منه 1 عند الصنف الهدف."
        ),
        "loss_sum": (
            "مخرج النموذج y ليس صفًّا من درجات الأصناف، فدالة الخسارة هي ‎L = Σ y ⊙ G‎ مع G عشوائية بالشكل نفسه، "
            "وتدرجها ‎∂L/∂y‎ هو G نفسها."
        ),
        "input": "المدخل",
        "receives": "تستقبل {grad}، تدرج الخسارة بالنسبة إلى مخرجها: الشكل {shape}، المعيار {norm}",
        "computes_param": "تحسب {grad} (الشكل {shape}، المعيار {norm}): به يحدّث المُحسِّن {name}",
        "computes_input": "تحسب {grad} (الشكل {shape}، المعيار {norm}) وتمرره إلى {to}",
        "no_input_grad": "مدخلها (البيانات) لا يحتاج إلى تدرج: هنا ينتهي الانتشار العكسي",
        "see_lesson": "اشتقاق تدرجات هذه الطبقة خطوةً خطوة:",
        "lesson_conv": (
            "هذا هو اشتقاق {layers} في {model}: بنفس الـkernel والـstride والـpadding والـdilation والـgroups، على "
            "مدخل بحجم {size} وبقناة واحدة لكل مجموعة حتى يمكن كتابة كل معادلة كاملة. وكل زوج من قنوات المدخل "
            "والمخرج في الطبقة يتبع هذه المعادلات نفسها."
        ),
        "lesson_pool": (
            "هذا هو اشتقاق {layers} في {model}: بنفس النافذة والـstride والـpadding، على مدخل بحجم {size}. "
            "والـpooling يعالج كل قناة وحدها بهذه المعادلات نفسها."
        ),
        "lesson_back": "العودة إلى الانتشار العكسي في {model}",
        "lesson_nav": "النموذج",
        "channels": "{cin} ← {cout} قناة",
        "h_check": "فحص التدرجات",
        "check": (
            "الشبكة كاملة بدقة float64 على دفعة من {batch} مدخلات عشوائية: لكل معامل P نقارن {dot} "
            "المحسوب بالانتشار العكسي على اتجاه عشوائي V طوله 1 بالفرق المركزي {difference} "
            "حيث ε = {eps}. ينجح الفحص إذا اتفقا بخطأ نسبي لا يتجاوز {rtol}."
        ),
        "check_columns": ("المعامل", "الشكل", "الانتشار العكسي", "الفرق المركزي", "النتيجة"),
        "agrees": "متفقان",
        "disagrees": "مختلفان",
        "check_ok": "تم التحقق من المعاملات كلها ({n}) (verified): الانتشار العكسي لهذه الشبكة صحيح.",
        "check_bad": "فشل الفحص في {names}: الانتشار العكسي لا يتفق مع الفروق المركزية.",
    },
}


def text(lang: str, key: str, **fields) -> str:
    """The string ``key`` in ``lang`` with ``fields`` filled in."""
    if lang not in STRINGS:
        raise ValueError(f"lang must be one of {LANGUAGES}, got {lang!r}")
    value = STRINGS[lang][key]
    return value.format(**fields) if fields else value
