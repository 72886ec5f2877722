package screen

import "strings"

// Romanisation variants that no letter or sound similarity connects: Korean surnames
// under the Revised, McCune-Reischauer, North Korean and customary spellings (이 is
// Lee, Yi, Ri and Rhee), and Chinese surnames in pinyin and Wade-Giles or Cantonese
// (Zhang and Chang, Chen and Chan). Words in one group match as transliterations.
var variantGroups = []string{
	// Korean surnames
	"lee yi ri rhee i rhie li",
	"park pak bak bahk",
	"choi choe chwe",
	"jung jeong chung jong chong",
	"kim gim",
	"kang gang",
	"cho jo joh",
	"yoon yun",
	"lim im rim",
	"oh o",
	"shin sin",
	"kwon gwon",
	"ahn an",
	"ryu yu yoo rhyu ryoo",
	"noh roh no ro",
	"moon mun",
	"han hahn",
	"seo so suh",
	"jang chang",
	"hyun hyon",
	// Chinese surnames
	"zhang chang cheung",
	"zhou chou chow",
	"xu hsu hui",
	"xi hsi",
	"qian chien",
	"jiang chiang",
	"huang hwang wong",
	"wu woo ng",
	"chen chan tan",
	"zhao chao chiu",
	"liu lau",
	"yang yeung",
	"zheng cheng",
	"lin lam",
	"guo kuo kwok",
	"he ho",
	"deng teng tang",
	"xie hsieh tse",
	"cai tsai choi",
	"zhu chu",
}

var variantOf = buildVariants(variantGroups)

func buildVariants(groups []string) map[string][]uint16 {
	m := make(map[string][]uint16)
	for g, line := range groups {
		for _, w := range strings.Fields(line) {
			m[w] = append(m[w], uint16(g))
		}
	}
	return m
}

// variants reports whether two words are listed as romanisations of one name.
func variants(a, b string) bool {
	ga, ok := variantOf[a]
	if !ok {
		return false
	}
	for _, x := range variantOf[b] {
		for _, y := range ga {
			if x == y {
				return true
			}
		}
	}
	return false
}

// variantWords lists the other spellings of a word, for finding them in the index.
func variantWords(w string) []string {
	var out []string
	for _, g := range variantOf[w] {
		for _, v := range strings.Fields(variantGroups[g]) {
			if v != w {
				out = append(out, v)
			}
		}
	}
	return out
}
