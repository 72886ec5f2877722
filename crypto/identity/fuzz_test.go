package identity

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParseCard checks that ParseCard never panics on hostile input and that every card it
// accepts is usable and reads back unchanged after being written out again.
func FuzzParseCard(f *testing.F) {
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCard(data)
		if err != nil {
			return
		}
		if _, err := c.Recipient(); err != nil {
			t.Fatalf("accepted card has no usable recipient: %v", err)
		}
		if _, err := c.SigningKey(); err != nil {
			t.Fatalf("accepted card has no usable signing key: %v", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseCard(out)
		if err != nil {
			t.Fatalf("re-encoded card refused: %v", err)
		}
		if again.Version != c.Version || again.State != c.State || again.AgeRecipient != c.AgeRecipient ||
			again.TLSPin != c.TLSPin || again.APIAddr != c.APIAddr || !bytes.Equal(again.SigningJWK, c.SigningJWK) {
			t.Fatalf("card changed on re-encoding: %+v -> %+v", c, again)
		}
	})
}
