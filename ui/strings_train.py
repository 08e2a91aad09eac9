"""Strings of the Train page. Each entry is key: (English, Simplified Chinese)."""

STRINGS = {
    "train.title": ("Train", "训练"),
    "train.intro": (
        "Race several pretrained backbones on the current dataset. Each backbone trains in its "
        "own worker process, so you can leave this page, refresh it or open it in another tab.",
        "在当前数据集上让多个预训练主干网络同场竞赛。每个主干网络在独立的工作进程中训练，"
        "因此你可以离开、刷新本页面，或在另一个标签页中打开。",
    ),
    "train.no_dataset": ("Load a dataset first.", "请先加载数据集。"),
    "train.go_to_data": ("Go to the Data page", "前往“数据”页面"),
    "train.backbones_title": ("1. Backbones", "1. 主干网络"),
    "train.column.backbone": ("backbone", "主干网络"),
    "train.column.params": ("parameters", "参数量"),
    "train.column.weights": ("pretrained weights", "预训练权重"),
    "train.column.speed": (
        "images/s at {size} px (estimate)", "{size} 像素下每秒图片数（估计）",
    ),
    "train.weights.ready": ("✓ ready offline", "✓ 已可离线使用"),
    "train.weights.not_prepared": ("not prepared", "尚未准备"),
    "train.weights.needs_internet": ("needs internet", "需要联网"),
    "train.pick_backbones": ("Backbones to race", "参赛的主干网络"),
    "train.pick_one": ("Pick at least one backbone.", "请至少选择一个主干网络。"),
    "train.shared_title": ("2. Settings for all runs", "2. 所有训练共用的设置"),
    "train.image_size": ("Image size (px)", "图片尺寸（像素）"),
    "train.image_size_help": (
        "Images are resized to this square size. Larger sizes are slower but keep more detail.",
        "图片会被缩放成该边长的正方形。尺寸越大越慢，但保留的细节越多。",
    ),
    "train.epochs": ("Epochs", "轮数（epochs）"),
    "train.batch_size": ("Batch size", "批大小"),
    "train.learning_rate": ("Learning rate", "学习率"),
    "train.learning_rate_placeholder": ("mode default", "按训练方式的默认值"),
    "train.learning_rate_help": (
        "Leave blank for the default of each mode: 0.001 for frozen and from scratch, "
        "0.0001 for fine-tuning.",
        "留空则使用各训练方式的默认值：冻结和从零训练为 0.001，微调为 0.0001。",
    ),
    "train.learning_rate_invalid": (
        "Learning rate {value!r} is not a positive number. Enter a value such as 0.001, or leave it blank.",
        "学习率 {value!r} 不是正数。请输入如 0.001 的数值，或留空。",
    ),
    "train.augmentation": (
        "Data augmentation (random horizontal flips, small rotations, zoom and shifts)",
        "数据增强（随机水平翻转、小角度旋转、缩放和平移）",
    ),
    "train.augmentation_help": (
        "Helps against overfitting on small datasets. Frozen runs then pass every image through "
        "the backbone in every epoch instead of once, so they are much slower.",
        "有助于减轻小数据集上的过拟合。此时冻结模式的训练每一轮都要让图片经过主干网络，"
        "而不是只计算一次，因此会慢很多。",
    ),
    "train.cache_on": (
        "Features cached: the backbone runs once over every image, so epoch 2+ is fast.",
        "特征已缓存：主干网络对每张图片只运行一次，所以第 2 轮起很快。",
    ),
    "train.cache_off_augmentation": (
        "No feature cache: with data augmentation on, the backbone runs over every image in every epoch.",
        "不缓存特征：开启数据增强后，每一轮主干网络都要处理每张图片。",
    ),
    "train.cache_badge": ("features cached", "特征已缓存"),
    "train.advanced": ("Advanced settings", "高级设置"),
    "train.optimizer": ("Optimizer", "优化器"),
    "train.seed": ("Random seed", "随机种子"),
    "train.patience": ("Early stopping patience", "早停耐心值"),
    "train.patience_help": (
        "Stop when validation accuracy has not improved for this many epochs. 0 turns early stopping off.",
        "验证准确率连续这么多轮没有提升时停止训练。0 表示不使用早停。",
    ),
    "train.dropout": ("Dropout before the head", "分类头前的 Dropout"),
    "train.modes_title": ("3. Training mode per backbone", "3. 每个主干网络的训练方式"),
    "train.mode": ("Mode", "训练方式"),
    "train.finetune_blocks": ("K: blocks to fine-tune", "K：要微调的模块数"),
    "train.finetune_blocks_help": (
        "How many blocks at the top of the backbone train together with the head.",
        "主干网络顶部有多少个模块与分类头一起训练。",
    ),
    "train.weights_missing_offline": (
        "Pretrained weights for {name} are not prepared on this machine, so this run will fail. "
        "Run `python -m tl_core weights fetch` once, or choose “from scratch”.",
        "本机尚未准备 {name} 的预训练权重，此训练将会失败。请先运行一次 "
        "`python -m tl_core weights fetch`，或选择“从零训练”。",
    ),
    "train.weights_missing_download": (
        "ImageNet weights for {name} are not on this machine and will be downloaded when the run "
        "starts. Without internet the run fails: choose “from scratch” then.",
        "本机没有 {name} 的 ImageNet 权重，训练开始时会尝试下载。如果无法联网，训练会失败，"
        "此时请选择“从零训练”。",
    ),
    "train.estimate": (
        "Estimated duration: {duration} (rough estimate) · learning rate {lr}",
        "预计用时：{duration}（粗略估计）· 学习率 {lr}",
    ),
    "train.start": ("Start race", "开始竞赛"),
    "train.started": ("Started a race of {count} run(s)", "已开始 {count} 个训练的竞赛"),
    "train.submit_failed": (
        "Could not queue the runs because the data folder is not writable. The server log has the details.",
        "数据文件夹不可写，无法将训练加入队列。详情见服务器日志。",
    ),
    "train.race_title": ("Race", "竞赛"),
    "train.new_race_title": ("New race", "新的竞赛"),
    "train.race_pick": ("Show race", "查看竞赛"),
    "train.race_settings": (
        "{size} px · {epochs} epoch(s) · batch size {batch} · learning rate {lr} · augmentation {augmentation}",
        "{size} 像素 · {epochs} 轮 · 批大小 {batch} · 学习率 {lr} · 数据增强 {augmentation}",
    ),
    "train.lr_default": ("mode default", "默认"),
    "train.on": ("on", "开"),
    "train.off": ("off", "关"),
    "train.stop": ("Stop", "停止"),
    "train.stop_requested": ("Stopping {name} after the current batch", "将在当前批次后停止 {name}"),
    "train.stopping": ("Stopping", "正在停止"),
    "train.finished_text": ("{epochs} epoch(s) in {duration}", "{epochs} 轮，用时 {duration}"),
    "train.stopped_text": ("Stopped after {epochs} epoch(s)", "在 {epochs} 轮后停止"),
    "train.failed_text": ("The run failed: {error}", "训练失败：{error}"),
    "train.interrupted_text": (
        "The worker ended without finishing this run (for example the machine restarted). Start it again.",
        "工作进程在完成此训练前就结束了（例如机器重启）。请重新开始。",
    ),
    "train.best_val": ("best validation accuracy {value:.1%}", "最佳验证准确率 {value:.1%}"),
    "train.test_accuracy": ("test accuracy {value:.1%}", "测试准确率 {value:.1%}"),
    "train.curves_waiting": (
        "Curves appear when the first batch has trained.", "第一个批次训练完成后将显示曲线。",
    ),
    "train.loss_chart": ("Loss", "损失"),
    "train.accuracy_chart": ("Accuracy", "准确率"),
}
