"""Strings shared by all pages: app name, navigation, sidebar, statuses, modes, charts.

Each entry is key: (English, Simplified Chinese). Placeholders use str.format.
"""

STRINGS = {
    "app.title": ("Transfer Learning Lab", "迁移学习实验室"),

    # Navigation links; keys are nav.<file stem>.
    "nav.app": ("Home", "首页"),
    "nav.1_Data": ("Data", "数据"),
    "nav.2_Train": ("Train", "训练"),
    "nav.3_Compare": ("Compare", "比较"),
    "nav.4_Predict": ("Predict", "预测"),

    # Sidebar
    "sidebar.language": ("Language", "语言"),
    "sidebar.dataset": ("Current dataset", "当前数据集"),
    "sidebar.no_dataset": ("No dataset loaded yet. Open the Data page.", "尚未加载数据集。请打开“数据”页面。"),
    "sidebar.dataset_counts": (
        "{classes} classes · {total} images (train {train}, val {val}, test {test})",
        "{classes} 个类别 · {total} 张图片（训练 {train}，验证 {val}，测试 {test}）",
    ),
    "sidebar.jobs": ("Training jobs", "训练任务"),
    "sidebar.no_jobs": ("No job is running or queued.", "没有正在运行或排队的任务。"),

    # Dataset splits
    "split.train": ("train", "训练"),
    "split.val": ("validation", "验证"),
    "split.test": ("test", "测试"),

    # Run statuses (tl_core.runs and tl_core.jobs)
    "status.queued": ("queued", "排队中"),
    "status.running": ("running", "运行中"),
    "status.finished": ("finished", "已完成"),
    "status.stopped": ("stopped", "已停止"),
    "status.failed": ("failed", "失败"),
    "status.interrupted": ("interrupted", "已中断"),

    # Training modes (tl_core.model.MODES)
    "mode.frozen": ("frozen", "冻结"),
    "mode.finetune": ("fine-tune top K", "微调顶部 K 个模块"),
    "mode.full": ("full fine-tuning", "全部微调"),
    "mode.scratch": ("from scratch", "从零训练"),
    "mode.frozen.help": (
        "The pretrained backbone stays fixed; only the new head trains. Fastest.",
        "预训练主干网络保持不变，只训练新的分类头。速度最快。",
    ),
    "mode.finetune.help": (
        "The head and the top K blocks of the backbone train; earlier blocks stay frozen.",
        "训练分类头和主干网络最顶部的 K 个模块，较早的模块保持冻结。",
    ),
    "mode.full.help": (
        "Every layer trains, starting from the pretrained weights, with a low learning rate.",
        "从预训练权重出发，以较低的学习率训练所有层。",
    ),
    "mode.scratch.help": (
        "Same network with random weights and no pretraining: the baseline transfer learning beats.",
        "相同的网络，随机初始化，不使用预训练：迁移学习要超越的基线。",
    ),

    # Charts
    "chart.train": ("train", "训练"),
    "chart.validation": ("validation", "验证"),
    "chart.epoch": ("epoch", "轮次（epoch）"),
    "chart.loss": ("loss", "损失"),
    "chart.accuracy": ("accuracy", "准确率"),
    "chart.class": ("class", "类别"),
    "chart.images": ("images", "图片数"),

    # Run progress
    "progress.queued": ("Waiting for a free worker", "等待空闲的工作进程"),
    "progress.starting": ("Starting (loading TensorFlow)", "正在启动（加载 TensorFlow）"),
    "progress.loading": ("Loading images ({split}) {done}/{total}", "正在载入图片（{split}）{done}/{total}"),
    "progress.features": ("Extracting features ({split}) {done}/{total}", "正在提取特征（{split}）{done}/{total}"),
    "progress.first_epoch": ("Starting epoch 1", "开始第 1 轮"),
    "progress.epoch": ("Epoch {epoch}/{epochs} · batch {batch}/{batches}", "第 {epoch}/{epochs} 轮 · 批次 {batch}/{batches}"),
    "progress.scoring": ("Scoring the test split and saving the model", "正在评估测试集并保存模型"),
    "progress.eta": ("about {eta} left", "约剩 {eta}"),
    "progress.speed": ("{speed:,.0f} images/s", "{speed:,.0f} 张图片/秒"),
}

STRINGS.update({
    # Home page
    "home.intro": (
        "Train an image classifier on your own photos by reusing a network pretrained on "
        "ImageNet, and see which backbone and which amount of fine-tuning work best.",
        "借助在 ImageNet 上预训练的网络，用你自己的照片训练图像分类器，"
        "并比较哪种主干网络、哪种微调程度效果最好。",
    ),
    "home.step_data.title": ("Load data", "加载数据"),
    "home.step_data.text": (
        "Upload a zip with one folder per class, or use the bundled sample. The app checks "
        "every image, splits train / validation / test, and warns about imbalance and duplicates.",
        "上传每个类别一个文件夹的 zip 压缩包，或使用自带的示例数据。应用会检查每张图片，"
        "划分训练 / 验证 / 测试集，并提示类别不平衡和重复图片。",
    ),
    "home.step_race.title": ("Race backbones", "主干网络竞赛"),
    "home.step_race.text": (
        "Pick several pretrained backbones and a training mode for each (frozen, fine-tune, "
        "full, from scratch). They train side by side with live loss and accuracy curves.",
        "选择多个预训练主干网络，并为每个设置训练方式（冻结、微调、全部微调、从零训练）。"
        "它们并行训练，损失和准确率曲线实时更新。",
    ),
    "home.step_compare.title": ("Compare and predict", "比较与预测"),
    "home.step_compare.text": (
        "Compare finished runs on the test split (accuracy, confusion matrix, speed, size) "
        "and classify new images with the model you like best.",
        "在测试集上比较已完成的训练（准确率、混淆矩阵、速度、模型大小），"
        "并用你最满意的模型识别新图片。",
    ),
    "home.sample_button": ("Start with the sample dataset", "使用示例数据集开始"),
    "home.sample_caption": (
        "Fashion-MNIST, 5 classes × 100 small grayscale images: a first race takes about a minute.",
        "Fashion-MNIST，5 个类别 × 100 张小灰度图：第一次竞赛大约需要一分钟。",
    ),
    "home.sample_missing": (
        "The sample dataset assets/samples/fashion_mnist_5.zip is missing. Upload your own zip "
        "on the Data page.",
        "缺少示例数据集 assets/samples/fashion_mnist_5.zip。请在“数据”页面上传你自己的 zip。",
    ),
})
