package screen

import (
	"strings"
	"unicode/utf8"
)

// hanData holds toneless pinyin for the Chinese characters most frequent in personal and
// company names, simplified and traditional forms both. There is no pinyin library to
// depend on, and a few hundred characters cover the large majority of the names on
// export-control lists; rarer characters are kept as themselves and still match exactly.
// Entries are "character reading", space separated; a leading '*' marks a surname.
// Where a character has several readings, the one used in names comes first.
const hanData = `
*王wang *李li *张zhang *張zhang *刘liu *劉liu *陈chen *陳chen *杨yang *楊yang *黄huang *黃huang
*赵zhao *趙zhao *吴wu *吳wu *周zhou *徐xu *孙sun *孫sun *马ma *馬ma *朱zhu *胡hu *郭guo *何he
*高gao *林lin *罗luo *羅luo *郑zheng *鄭zheng *梁liang *谢xie *謝xie *宋song *唐tang *许xu
*許xu *韩han *韓han *冯feng *馮feng *邓deng *鄧deng *曹cao *彭peng *曾zeng *肖xiao *蕭xiao
*田tian *董dong *袁yuan *潘pan *于yu *於yu *蒋jiang *蔣jiang *蔡cai *余yu *杜du *叶ye *葉ye
*程cheng *苏su *蘇su *魏wei *吕lv *呂lv *丁ding *任ren *沈shen *姚yao *卢lu *盧lu *姜jiang
*崔cui *钟zhong *鍾zhong *谭tan *譚tan *陆lu *陸lu *汪wang *范fan *金jin *石shi *廖liao
*贾jia *賈jia *夏xia *韦wei *韋wei *付fu *傅fu *方fang *白bai *邹zou *鄒zou *孟meng *熊xiong
*秦qin *邱qiu *江jiang *尹yin *薛xue *闫yan *閆yan *段duan *雷lei *侯hou *龙long *龍long
*史shi *陶tao *黎li *贺he *賀he *顾gu *顧gu *毛mao *郝hao *龚gong *龔gong *邵shao *万wan
*萬wan *钱qian *錢qian *严yan *嚴yan *覃qin *武wu *戴dai *莫mo *孔kong *向xiang *汤tang
*湯tang *习xi *習xi *温wen *溫wen *薄bo *常chang *康kang *施shi *牛niu *洪hong *齐qi *齊qi
*易yi *乔qiao *喬qiao *欧ou *歐ou *伍wu *柳liu *关guan *關guan *祝zhu *申shen *柴chai
*游you *倪ni *殷yin *庞pang *龐pang *聂nie *聶nie *焦jiao *包bao *尚shang *岳yue *阎yan
*閻yan *左zuo *郁yu *桂gui *甘gan *纪ji *紀ji *宁ning *寧ning *骆luo *駱luo *邢xing *辛xin
*司si *上shang *诸zhu *諸zhu *蓝lan *藍lan *路lu *俞yu *季ji *梅mei *卓zhuo
*艾ai *钮niu *单shan *單shan *华hua *華hua *裴pei *鲍bao *鮑bao *凌ling *翟zhai *管guan
*霍huo *虞yu *詹zhan *葛ge *耿geng *涂tu *屈qu *巫wu *鲁lu *魯lu *滕teng *奚xi *廉lian
*车che *車che *穆mu *萧xiao *阮ruan *蒙meng *文wen *黄huang *颜yan *顏yan *翁weng *米mi
*窦dou *竇dou *戚qi *邬wu *樊fan *边bian *邊bian *钟zhong *闵min *閔min *荣rong *榮rong
*俞yu *麦mai *麥mai *简jian *簡jian *祁qi *宗zong *丛cong *叢cong *花hua *柯ke *卜bu *农nong
*晏yan *谷gu *喻yu *蓬peng *戈ge *苗miao *冉ran *鞠ju *毕bi *畢bi *丘qiu *全quan *安an
*盛sheng *成cheng *明ming *房fang *云yun *雲yun *连lian *連lian *杭hang *詹zhan *解xie *池chi
*尤you *井jing *仇qiu *栾luan *欒luan *冷leng *侯hou *褚chu *费fei *費fei *卫wei *衛wei
*蔺lin *藺lin *应ying *應ying *苟gou *覃qin *佟tong *储chu *儲chu *邝kuang *鄺kuang *敖ao
*郎lang *谈tan *談tan *熊xiong *童tong *舒shu *朴piao *景jing *吉ji *汤tang *项xiang *項xiang
*祖zu *扈hu *卞bian *阳yang *陽yang *霍huo *练lian *練lian *姬ji *席xi *麻ma *嵇ji
伟wei 偉wei 芳fang 娜na 敏min 静jing 靜jing 丽li 麗li 强qiang 強qiang 磊lei 军jun 軍jun
洋yang 勇yong 艳yan 艷yan 杰jie 傑jie 娟juan 涛tao 濤tao 超chao 秀xiu 英ying 平ping
近jin 建jian 国guo 國guo 志zhi 红hong 紅hong 东dong 東dong 海hai 小xiao 春chun 德de 兰lan
蘭lan 玉yu 光guang 辉hui 輝hui 新xin 峰feng 刚gang 剛gang 宇yu 鹏peng 鵬peng 飞fei 飛fei
斌bin 晓xiao 曉xiao 俊jun 庆qing 慶qing 民min 永yong 宏hong 清qing 燕yan 霞xia 凤feng
鳳feng 琴qin 雪xue 丹dan 慧hui 婷ting 颖ying 穎ying 佳jia 嘉jia 欣xin 雨yu 思si 子zi 梓zi
浩hao 泽ze 澤ze 博bo 天tian 瑞rui 君jun 家jia 世shi 中zhong 正zheng 和he 立li 力li 仁ren
义yi 義yi 信xin 忠zhong 孝xiao 贵gui 貴gui 福fu 寿shou 壽shou 喜xi 乐le 樂le 山shan 川chuan
河he 湖hu 水shui 火huo 木mu 土tu 日ri 月yue 星xing 生sheng 长chang 長chang 大da 一yi 二er
三san 人ren 心xin 学xue 學xue 友you 伦lun 倫lun 克ke 松song 柏bai 兵bing 彬bin 琳lin
玲ling 莉li 萍ping 倩qian 青qing 波bo 锋feng 鋒feng 毅yi 健jian 坤kun 鑫xin 晨chen 昊hao
轩xuan 軒xuan 睿rui 哲zhe 航hang 凯kai 凱kai 铭ming 銘ming 伊yi 涵han 琪qi 怡yi 诗shi
詩shi 晶jing 洁jie 潔jie 露lu 蕾lei 亮liang 威wei 鸿hong 鴻hong 勤qin 奇qi 恩en 来lai
來lai 泰tai 胜sheng 勝sheng 利li 发fa 發fa 达da 達da 广guang 廣guang 振zhen 兴xing 興xing
隆long 昌chang 启qi 啟qi 宝bao 寶bao 珍zhen 珠zhu 财cai 財cai 源yuan 通tong 化hua 工gong
业ye 業ye 科ke 技ji 贸mao 貿mao 集ji 团tuan 團tuan 有you 限xian 责ze 責ze 股gu 份fen
实shi 實shi 电dian 電dian 机ji 機ji 械xie 进jin 進jin 出chu 口kou 际ji 際ji 联lian 聯lian
合he 开kai 開kai 投tou 资zi 資zi 控kong 运yun 運yun 船chuan 舶bo 物wu 流liu 能neng 油you
香xiang 港gang 深shen 圳zhen 北bei 京jing 南nan 西xi 州zhou 津jin 重zhong 龙long 鸣ming
鳴ming 丰feng 豐feng 荣rong 虎hu 豪hao 军jun 卿qing 桥qiao 橋qiao 军jun 雄xiong 彪biao
宁ning 静jing 琦qi 璐lu 瑶yao 瑤yao 媛yuan 秋qiu 菊ju 莲lian 蓮lian 桃tao 兰lan 翠cui
淑shu 惠hui 贤xian 賢xian 良liang 善shan 仲zhong 伯bo 叔shu 季ji 如ru 若ruo 宜yi 容rong
颂song 頌song 亚ya 亞ya 洲zhou 美mei 欧ou 非fei 澳ao 加jia 俄e 日ri 韩han 朝chao 鲜xian
鮮xian 越yue 泉quan 溪xi 江jiang 岩yan 石shi 铁tie 鐵tie 钢gang 鋼gang 银yin 銀yin 铜tong
銅tong 矿kuang 礦kuang 煤mei 气qi 氣qi 核he 航hang 空kong 天tian 军jun 兵bing 器qi 材cai
料liao 光guang 学xue 仪yi 儀yi 表biao 精jing 密mi 微wei 半ban 导dao 導dao 体ti 體ti 信xin
息xi 网wang 網wang 络luo 絡luo 软ruan 軟ruan 件jian 数shu 數shu 码ma 碼ma 智zhi 云yun
达da 迪di 思si 维wei 維wei 克ke 斯si 特te 尔er 爾er 拉la 亚ya 利li 诺nuo 諾nuo 尼ni 娅ya
安an 卡ka 罗luo 丝si 絲si 莎sha 蒂di 贝bei 貝bei 尚shang 顺shun 順shun 祥xiang 瑞rui 庄zhuang
莊zhuang 永yong 久jiu 远yuan 遠yuan 宏hong 伟wei 卓zhuo 越yue 先xian 锦jin 錦jin 绣xiu
金jin 木mu 森sen 林lin 树shu 樹shu 叶ye 花hua 草cao 竹zhu 梅mei 兰lan 菊ju 春chun 夏xia
秋qiu 冬dong 东dong 南nan 西xi 北bei 前qian 后hou 後hou 左zuo 右you 上shang 下xia 内nei
外wai 里li 边bian 区qu 區qu 省sheng 市shi 县xian 縣xian 镇zhen 鎮zhen 村cun 路lu 街jie
号hao 號hao 楼lou 樓lou 室shi 厂chang 廠chang 场chang 場chang 店dian 行hang 社she 局ju
部bu 院yuan 所suo 校xiao 会hui 會hui 协xie 協xie 银yin 保bao 险xian 險xian 证zheng 證zheng
券quan 基ji 金jin 信xin 托tuo 租zu 赁lin 賃lin 贷dai 貸dai 易yi 商shang 贸mao 购gou 購gou
销xiao 銷xiao 售shou 供gong 应ying 链lian 鏈lian 管guan 理li 咨zi 询xun 詢xun 服fu 务wu
務wu 设she 設she 计ji 計ji 造zao 制zhi 製zhi 品pin 产chan 產chan 农nong 農nong 牧mu 渔yu
漁yu 食shi 饮yin 飲yin 酒jiu 茶cha 药yao 藥yao 医yi 醫yi 疗liao 療liao 康kang 健jian 卫wei
環huan 环huan 保bao 节jie 節jie 新xin 材cai 纳na 納na 米mi 泽ze 华hua 为wei 為wei 兆zhao
枫feng 楓feng 具ju 术shu 術shu 株zhu 式shi 亿yi 億yi 万wan 千qian 百bai 十shi 九jiu 八ba 七qi 六liu 五wu 四si 元yuan 方fang 圆yuan
`

// hanCompoundSurnames are the two-character surnames; without them the second character
// would be read as the start of the given name.
var hanCompoundSurnames = map[string]bool{
	"欧阳": true, "歐陽": true, "司马": true, "司馬": true, "诸葛": true, "諸葛": true,
	"上官": true, "东方": true, "東方": true, "皇甫": true, "尉迟": true, "尉遲": true,
	"公孙": true, "公孫": true, "慕容": true, "令狐": true, "夏侯": true, "长孙": true,
	"長孫": true, "宇文": true, "司徒": true, "司空": true, "端木": true, "轩辕": true,
	"軒轅": true, "澹台": true, "南宫": true, "南宮": true,
}

var hanPinyin, hanSurnames = parseHanData(hanData)

func parseHanData(data string) (map[rune]string, map[rune]bool) {
	readings := make(map[rune]string, 800)
	surnames := make(map[rune]bool, 300)
	for _, f := range strings.Fields(data) {
		sur := false
		if f[0] == '*' {
			sur = true
			f = f[1:]
		}
		r, size := utf8.DecodeRuneInString(f)
		rest := f[size:]
		if _, ok := readings[r]; !ok {
			readings[r] = rest
		}
		if sur {
			surnames[r] = true
		}
	}
	return readings, surnames
}
